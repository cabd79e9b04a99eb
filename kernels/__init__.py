"""The device-code layer shared by labs and references: CUDA C sources and their build."""
