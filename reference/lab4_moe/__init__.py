"""Reference solution for lab 4 (MoE vs dense communication): the model, the roofline fit, the
dispatch/combine and tensor-parallel collectives, and known-wrong submissions in ``wrong/``."""
