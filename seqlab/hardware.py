"""What the CPU can do with bfloat16, and what TensorFlow's oneDNN will use of it.

Read from ``/proc/cpuinfo`` and the environment only: TensorFlow is not imported, so the
command line, ``run.json`` and the benchmarks' headers can say it cheaply. Every function
takes the cpuinfo text and the environment as arguments (tests pass made-up ones).

bfloat16 products are fast only on CPUs with units for them: AMX (``amx_bf16``, Intel Xeon
from Sapphire Rapids on: tile products, several times float32's speed) or AVX512-BF16
(``avx512_bf16``: dot products of bfloat16 pairs, Intel Cooper Lake, AMD Zen 4 on: about
twice float32's speed in a matrix product). Elsewhere oneDNN converts bfloat16 to float32 and
back around every product, which is slower than float32 alone.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

CPUINFO = "/proc/cpuinfo"

# oneDNN's CPU instruction-set levels, lowest first, as ONEDNN_MAX_CPU_ISA names them
# (oneDNN 3.x; DNNL_MAX_CPU_ISA is the older name of the variable), with the cpuinfo flags
# each needs. bfloat16 products have units from AVX512_CORE_BF16 on.
_ISA_LEVELS = (
    ("SSE41", ("sse4_1",)),
    ("AVX", ("avx",)),
    ("AVX2", ("avx2",)),
    ("AVX2_VNNI", ("avx2", "avx_vnni")),
    ("AVX512_CORE", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("AVX512_CORE_VNNI", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni")),
    ("AVX512_CORE_BF16", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
                          "avx512_bf16")),
    ("AVX512_CORE_AMX", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
                         "avx512_bf16", "amx_tile", "amx_bf16")),
)
_ISA_NAMES = tuple(name for name, _ in _ISA_LEVELS)
# Other names oneDNN accepts for the same levels.
_ISA_ALIASES = {"AVX10_1_512": "AVX512_CORE_BF16", "AVX512_CORE_FP16": "AVX512_CORE_BF16",
                "AVX10_1_512_AMX": "AVX512_CORE_AMX", "AVX10_1_512_AMX_FP16": "AVX512_CORE_AMX",
                "AVX512_CORE_AMX_FP16": "AVX512_CORE_AMX", "AVX2_VNNI_2": "AVX2_VNNI"}
_BF16_ISA = "AVX512_CORE_BF16"


@dataclasses.dataclass(frozen=True)
class CpuBf16:
    """What a CPU offers for bfloat16 and what TensorFlow's oneDNN will use.

    Attributes:
        model: the CPU's model name ("unknown" when cpuinfo does not say).
        amx_bf16: the CPU has AMX tiles with bfloat16 products (``amx_bf16`` and
            ``amx_tile``).
        avx512_bf16: the CPU has AVX512-BF16 (``avx512_bf16``).
        onednn: whether TensorFlow's oneDNN kernels are on (``TF_ENABLE_ONEDNN_OPTS``: on
            unless set to 0 or false; TensorFlow's default on x86 Linux).
        onednn_isa: the highest instruction-set level oneDNN will use: what the CPU has,
            capped by ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``); None when unknown.
        isa_cap: that variable's value, or None when unset.
    """

    model: str
    amx_bf16: bool
    avx512_bf16: bool
    onednn: bool
    onednn_isa: str | None
    isa_cap: str | None = None

    @property
    def units(self) -> str | None:
        """The bfloat16 units TensorFlow will use: ``"amx"``, ``"avx512_bf16"`` or None
        (none on the CPU, oneDNN off, or capped below them)."""
        if not self.onednn or self.onednn_isa is None:
            return None
        level = _ISA_NAMES.index(self.onednn_isa)
        if self.amx_bf16 and level >= _ISA_NAMES.index("AVX512_CORE_AMX"):
            return "amx"
        if self.avx512_bf16 and level >= _ISA_NAMES.index(_BF16_ISA):
            return "avx512_bf16"
        return None

    def to_dict(self) -> dict:
        """As run.json records it."""
        return {"cpu": self.model, "amx_bf16": self.amx_bf16, "avx512_bf16": self.avx512_bf16,
                "onednn": self.onednn, "onednn_isa": self.onednn_isa,
                "onednn_max_cpu_isa": self.isa_cap, "bf16_units": self.units}

    def describe(self) -> str:
        """One line for a table's header: the CPU, its bfloat16 units and oneDNN's use."""
        units = {"amx": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}.get(self.units)
        has = [name for name, flag in (("AMX-BF16", self.amx_bf16),
                                       ("AVX512-BF16", self.avx512_bf16)) if flag]
        cpu = f"{self.model}: bfloat16 units {', '.join(has) if has else 'none'}"
        if not self.onednn:
            return f"{cpu}; oneDNN off (TF_ENABLE_ONEDNN_OPTS=0): bfloat16 not used"
        cap = f" (capped by ONEDNN_MAX_CPU_ISA={self.isa_cap})" if self.isa_cap else ""
        used = f"oneDNN uses {units}" if units else "oneDNN uses none"
        return f"{cpu}; {used}, ISA {self.onednn_isa or 'unknown'}{cap}"


def cpu_flags(cpuinfo: str) -> tuple[str, set[str]]:
    """The model name and the flags of the first processor in ``/proc/cpuinfo``'s text."""
    model, flags = "unknown", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip() or "unknown"
        elif key in ("flags", "Features") and not flags:  # Features: ARM's name
            flags = set(value.split())
        if model != "unknown" and flags:
            break
    return model, flags


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpu_bf16(cpuinfo: str | None = None, environ: Mapping[str, str] | None = None) -> CpuBf16:
    """What this CPU (or the one ``cpuinfo``, /proc/cpuinfo's text, describes) offers for
    bfloat16, and what oneDNN will use under ``environ`` (default: this process's)."""
    text = _read(CPUINFO) if cpuinfo is None else cpuinfo
    env = os.environ if environ is None else environ
    model, flags = cpu_flags(text)
    onednn = env.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    isa = None
    if flags:
        isa = "SSE41"  # the lowest level named; a CPU below it gets no oneDNN kernels worth it
        for name, needs in _ISA_LEVELS:
            if all(f in flags for f in needs):
                isa = name
        if not any(f in flags for f in ("sse4_1", "avx")):
            isa = None  # not an x86 CPU: oneDNN's x86 levels do not apply
    cap = env.get("ONEDNN_MAX_CPU_ISA") or env.get("DNNL_MAX_CPU_ISA") or None
    if cap and isa is not None:
        limit = _ISA_ALIASES.get(cap.strip().upper(), cap.strip().upper())
        if limit in _ISA_NAMES and _ISA_NAMES.index(limit) < _ISA_NAMES.index(isa):
            isa = limit
    return CpuBf16(model, "amx_bf16" in flags and "amx_tile" in flags,
                   "avx512_bf16" in flags, onednn, isa, cap)


# What `auto` chooses, by the units oneDNN uses: prediction takes bfloat16 on either kind
# of unit, training (mixed bfloat16) only on AMX (issue 39; see BENCHMARKS.md for what
# was measured on a CPU with AVX512-BF16 alone).
AUTO_PREDICTION = ("amx", "avx512_bf16")
AUTO_TRAINING = ("amx",)
