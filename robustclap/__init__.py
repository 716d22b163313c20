"""robustclap: paraphrase corpora of audio captions and multi-view CLAP fine-tuning.

One namespace for the whole toolkit. The design card's folders (pipeline/, quality/, ...) sit at
the repository root and install as robustclap.pipeline, robustclap.quality, ...; the contracts
every stage shares and the CLI root live here. See the README's architecture section.
"""
