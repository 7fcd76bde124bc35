"""The official WIDER FACE val APs of the fixtures' PR curves, from ``fixtures/README.md``.

method -> (easy, medium, hard). Shared by the tests that check rfbench's AP against them.
"""

PUBLISHED_AP = {
    "hr_res101": (0.930239, 0.915676, 0.830256),
    "HR": (0.925708, 0.910481, 0.806046),
    "cms-rcnn": (0.899345, 0.874512, 0.624435),
    "multitask-cascade-cnn": (0.848777, 0.825753, 0.598361),
    "LDCF+": (0.790041, 0.769052, 0.522502),
    "faceness": (0.713843, 0.634777, 0.345848),
    "multiscale_cascade": (0.691524, 0.664318, 0.424442),
    "two_stage_cnn": (0.681224, 0.618891, 0.323884),
    "acf": (0.659213, 0.541818, 0.273155),
}
