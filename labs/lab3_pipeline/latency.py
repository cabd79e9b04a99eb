"""Little's law for lab 3: how many bytes must be in flight, measured and predicted.

    bytes in flight = bandwidth x latency

The GPU half measures latency with a pointer chase (one thread following a chain of dependent
loads, so each load waits for the previous one): the idle DRAM latency, over random lines
inside 2 MiB pages (one TLB miss per page, shared by many loads) and over random lines of a
whole buffer (TLB misses included); and the L2 latency, over a buffer small enough to stay in
L2. Loads use ``ld.global.cg`` (``__ldcg``): cached in L2 only, so L1 never answers.

The arithmetic half (no GPU) turns those into the numbers the stage sweep is compared with.

**The model, and why reads count and writes do not (in flight).** The ring keeps *reads* in
flight: each stage is a tile whose data the SM must wait for. Stores are posted: the SM hands
them to the memory system and goes on, so they never hold a stage and add nothing to the
bytes the stages must keep in flight; they do cost DRAM bandwidth, and the bandwidth we report
counts bytes read plus bytes written (like the device-to-device copy it is compared with), one
byte written per byte read. With S stages of T bytes on each of P SMs and a latency L::

    read bandwidth      = P * S * T / L
    reported bandwidth  B(S) = min(ceiling, 2 * P * S * T / L)

With the *idle* latency this over-predicts at small S: under load the latency the stages must
cover grows (queues in the memory system), so the measured curve saturates later. Turning the
measured bandwidth around gives the latency actually covered, :func:`loaded_latency`. Measured
on the lent H200 (docs/domain.md): idle DRAM 348 ns, but ~2.3 us implied at saturation.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LINE_BYTES = 128  # one L2 line; the chase touches one word of each line it visits
PAGE_BYTES = 2 << 20  # the GPU's large page: CUDA backs big allocations with 2 MiB pages
WORD_BYTES = 4  # the chain is stored as uint32 word indices
WORDS_PER_LINE = LINE_BYTES // WORD_BYTES
LINES_PER_PAGE = PAGE_BYTES // LINE_BYTES

CHASE_SOURCE = r"""
// One thread follows the chain: j = next[j], `steps` times. Each load depends on the one
// before, so the time per step is the latency of one load. __ldcg: cached in L2, not L1.
extern "C" __global__ void pointer_chase(const unsigned int* __restrict__ next,
                                         unsigned int start, unsigned long long steps,
                                         unsigned int* __restrict__ sink) {
    unsigned int j = start;
    for (unsigned long long s = 0; s < steps; ++s) j = __ldcg(next + j);
    sink[0] = j;  // keeps the chain alive
}
"""


# ------------------------------------------------------------------------------------------------
# Little's law


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, not {value!r}")
    return value


def bytes_in_flight_needed(bandwidth: float, latency: float, sms: int = 1) -> float:
    """Bytes each of ``sms`` SMs must keep in flight to sustain ``bandwidth`` (bytes/s) when
    each request takes ``latency`` (s): bandwidth x latency / sms.

    Pass the bandwidth of the traffic that has to be in flight: for this kernel the reads, i.e.
    half of a read + write figure (see the module docstring)."""
    if isinstance(sms, bool) or int(sms) != sms or sms < 1:
        raise ValueError(f"sms must be a positive int, not {sms!r}")
    return _positive("bandwidth", bandwidth) * _positive("latency", latency) / int(sms)


def loaded_latency(bandwidth: float, bytes_in_flight: float) -> float:
    """The latency (s) that ``bytes_in_flight`` (bytes, over the whole chip) cover at the
    measured ``bandwidth`` (bytes/s): bytes_in_flight / bandwidth. Same convention as
    :func:`bytes_in_flight_needed`: reads in flight against read bandwidth."""
    return _positive("bytes_in_flight", bytes_in_flight) / _positive("bandwidth", bandwidth)


def predicted_bandwidth(
    stages: int,
    tile_bytes: int,
    sms: int,
    latency: float,
    ceiling: float,
    bytes_per_read_byte: float = 2.0,
) -> float:
    """B(S) = min(ceiling, bytes_per_read_byte * sms * stages * tile_bytes / latency), in
    bytes/s: ``stages`` tiles of reads in flight per SM, and ``bytes_per_read_byte`` bytes
    counted in the reported bandwidth per byte read (2: read + written)."""
    for name, v in (("stages", stages), ("tile_bytes", tile_bytes), ("sms", sms)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive int, not {v!r}")
    reads = int(sms) * int(stages) * int(tile_bytes) / _positive("latency", latency)
    return min(
        _positive("ceiling", ceiling), _positive("bytes_per_read_byte", bytes_per_read_byte) * reads
    )


def implied_latency(
    bandwidth: float, stages: int, tile_bytes: int, sms: int, bytes_per_read_byte: float = 2.0
) -> float:
    """The latency (s) at which :func:`predicted_bandwidth` (below its ceiling) would equal the
    measured ``bandwidth``: the loaded latency the stages actually covered."""
    reads = _positive("bandwidth", bandwidth) / _positive(
        "bytes_per_read_byte", bytes_per_read_byte
    )
    return loaded_latency(reads, int(sms) * int(stages) * int(tile_bytes))


def stages_needed(
    ceiling: float, tile_bytes: int, sms: int, latency: float, bytes_per_read_byte: float = 2.0
) -> int:
    """The fewest stages for which :func:`predicted_bandwidth` reaches ``ceiling``."""
    per_sm = bytes_in_flight_needed(
        ceiling / _positive("bytes_per_read_byte", bytes_per_read_byte), latency, sms
    )
    return max(1, int(np.ceil(per_sm / _positive("tile_bytes", tile_bytes) - 1e-9)))


# ------------------------------------------------------------------------------------------------
# Pointer-chase chains (host side, numpy)


def chase_positions(
    kind: str,
    buffer_bytes: int,
    count: int,
    rng: np.random.Generator,
    lines_per_page: int = 512,
) -> np.ndarray:
    """Word indices (uint32, multiples of WORDS_PER_LINE) of ``count`` distinct lines of a
    buffer of ``buffer_bytes``, in the order the chase visits them:

    * ``"pages"``: ``count / lines_per_page`` distinct random 2 MiB pages, in random order, and
      inside each page ``lines_per_page`` distinct random lines in random order, so that one
      TLB miss is shared by ``lines_per_page`` loads;
    * ``"random"``: random distinct lines anywhere in the buffer (TLB misses included);
    * ``"cycle"``: every line of the buffer once, in random order (``count`` is ignored), for
      the L2 chase, which runs around it several times.
    """
    lines = int(buffer_bytes) // LINE_BYTES
    if lines < 1:
        raise ValueError(f"a buffer of {buffer_bytes} B holds no {LINE_BYTES}-byte line")
    if int(buffer_bytes) // WORD_BYTES > 2**32:
        raise ValueError("the chain stores uint32 word indices: at most 16 GiB")
    if kind == "cycle":
        order = rng.permutation(lines)
    elif kind == "random":
        if not 1 <= count <= lines:
            raise ValueError(f"count must be 1 .. {lines} lines, not {count}")
        order = rng.choice(lines, size=count, replace=False)
    elif kind == "pages":
        if not 1 <= lines_per_page <= LINES_PER_PAGE:
            raise ValueError(f"lines_per_page must be 1 .. {LINES_PER_PAGE}")
        pages = lines // LINES_PER_PAGE
        n_pages = -(-count // lines_per_page)
        if n_pages > pages:
            raise ValueError(
                f"{count} lines at {lines_per_page} per page need {n_pages} pages of 2 MiB, "
                f"the buffer has {pages}"
            )
        chosen = rng.choice(pages, size=n_pages, replace=False)
        inner = np.stack(
            [rng.choice(LINES_PER_PAGE, size=lines_per_page, replace=False) for _ in chosen]
        )
        order = (chosen[:, None] * LINES_PER_PAGE + inner).reshape(-1)[:count]
    else:
        raise ValueError(f"kind must be 'pages', 'random' or 'cycle', not {kind!r}")
    return (order.astype(np.uint64) * WORDS_PER_LINE).astype(np.uint32)


def chain_links(positions: np.ndarray) -> np.ndarray:
    """next[positions[i]] = positions[i + 1], and the last links back to the first."""
    return np.roll(positions, -1)


# ------------------------------------------------------------------------------------------------
# Measuring (GPU)


@dataclass
class Latency:
    kind: str
    buffer_bytes: int
    steps: int
    samples_ns: list[float] = field(default_factory=list)

    @property
    def ns(self) -> float:
        return statistics.median(self.samples_ns)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ns": self.ns}


_chase_kernel: Any = None


def _kernel():
    global _chase_kernel
    if _chase_kernel is None:
        from kernels.build import compile_source, device_arch, load_compiled

        compiled = compile_source(CHASE_SOURCE, "pointer_chase.cu", device_arch())
        _chase_kernel = load_compiled(compiled).get_function("pointer_chase")
    return _chase_kernel


def _flush_l2(flush) -> None:
    import cupy

    stream = cupy.cuda.get_current_stream()
    cupy.cuda.runtime.memsetAsync(flush.data.ptr, 0, flush.nbytes, stream.ptr)


def measure_latency(
    kind: str = "pages",
    buffer_bytes: int = 1 << 30,
    steps: int = 1 << 15,
    repeats: int = 3,
    seed: int = 0,
    lines_per_page: int = 512,
) -> Latency:
    """The median time per dependent load, in ns, of ``repeats`` chases of ``steps`` loads.

    ``"pages"`` and ``"random"`` (see :func:`chase_positions`) measure idle DRAM: every line is
    visited once per chase and L2 is flushed (a memset of twice its size) before each one.
    ``"cycle"`` measures L2: the whole (small) buffer is walked once to load it into L2, then
    ``steps`` loads go round it."""
    import cupy

    rng = np.random.default_rng(seed)
    positions = chase_positions(kind, buffer_bytes, steps, rng, lines_per_page)
    chain = cupy.zeros(int(buffer_bytes) // WORD_BYTES, dtype=cupy.uint32)
    chain[cupy.asarray(positions)] = cupy.asarray(chain_links(positions))
    sink = cupy.zeros(1, dtype=cupy.uint32)
    l2 = int(cupy.cuda.Device().attributes.get("L2CacheSize", 0))
    flush = cupy.empty(max(2 * l2, 64 << 20), dtype=cupy.uint8)
    kernel = _kernel()
    start_word = np.uint32(positions[0])
    kernel((1,), (1,), (chain, start_word, np.uint64(1), sink))  # load the module, warm up
    result = Latency(kind, int(buffer_bytes), int(steps))
    begin, end = cupy.cuda.Event(), cupy.cuda.Event()
    for _ in range(repeats):
        _flush_l2(flush)
        if kind == "cycle":  # bring the buffer into L2
            kernel((1,), (1,), (chain, start_word, np.uint64(len(positions)), sink))
        begin.record()
        kernel((1,), (1,), (chain, start_word, np.uint64(steps), sink))
        end.record()
        end.synchronize()
        result.samples_ns.append(cupy.cuda.get_elapsed_time(begin, end) * 1e6 / steps)
    expected = positions[steps % len(positions)]  # where the chain must have ended
    if int(sink.get()[0]) != int(expected):
        raise RuntimeError(f"the chase ended at {int(sink.get()[0])}, not {int(expected)}")
    return result


def measure_all(seed: int = 0) -> dict[str, Latency]:
    """Idle DRAM (pages of 1 GiB, random lines of 1 GiB) and L2 (a 2 MiB cycle)."""
    return {
        "dram_pages": measure_latency("pages", 1 << 30, 1 << 15, seed=seed),
        "dram_random": measure_latency("random", 1 << 30, 1 << 15, seed=seed),
        "l2": measure_latency("cycle", 2 << 20, 1 << 16, seed=seed),
    }
