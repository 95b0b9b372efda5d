"""The project's own model organism: a small LLaMA-architecture model pre-trained
on Debian-packaged English text and its instruction-tuned descendant.

Submodules: ``sources`` (readers of the packaged resources), ``leakcheck``
(n-gram overlap with the paper's evaluation prompts), ``tokenizer`` (LLaMA-style
byte-fallback BPE), ``config`` (model sizes), ``data`` (token streams and
instruction batches), ``train`` (pre-training / fine-tuning loop with
checkpoint + resume), ``evaluate`` (held-out instruction following).
"""
