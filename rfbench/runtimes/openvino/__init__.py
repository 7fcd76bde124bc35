"""The OpenVINO adapter."""
