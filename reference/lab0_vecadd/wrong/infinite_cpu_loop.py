# Spins on the host forever.
# expect: zero timeout
def saxpy(a, x, y, out):
    while True:
        pass
