"""Lab 4: MoE vs dense communication, from napkin math to torch.distributed."""
