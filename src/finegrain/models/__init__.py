"""Pretrained encoders by registered name, local folder, or (with network) hub name."""
