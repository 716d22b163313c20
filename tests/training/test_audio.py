"""Decoding, resampling and CLAP features on generated and real audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from robustclap.contracts.errors import RobustclapError
from robustclap.training.audio import AudioFrontEnd, AudioProblem, find_audio_files, load_audio

SR = 48000


@pytest.fixture(scope="module")
def extractor():
    from transformers import ClapFeatureExtractor

    return ClapFeatureExtractor()


def test_stereo_is_mixed_to_mono_and_resampled(tmp_path):
    sr = 22050
    t = np.arange(sr * 2) / sr
    left = (0.6 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(tmp_path / "st.wav", np.stack([left, np.zeros_like(left)], axis=1), sr)
    wave = load_audio(tmp_path / "st.wav", SR)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == 2 * SR
    # mean of the two channels: half the amplitude of the left one
    assert np.max(np.abs(wave)) == pytest.approx(0.3, abs=0.01)
    # still a 440 Hz tone after resampling
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * SR / len(wave) == pytest.approx(440, abs=1)


@pytest.mark.parametrize("name,reason", [("silent.wav", "silent"), ("empty.wav", "empty"),
                                          ("broken.wav", "unreadable"),
                                          ("absent.wav", "missing")])
def test_unusable_files_are_named(generated_audio, name, reason):
    with pytest.raises(AudioProblem) as err:
        load_audio(generated_audio / name, SR)
    assert err.value.reason == reason


def test_find_audio_files_maps_stems_and_refuses_duplicates(generated_audio, tmp_path):
    files = find_audio_files(generated_audio)
    assert files["clip03"].name == "clip03.wav" and files["flacclip"].suffix == ".flac"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sf.write(tmp_path / "a" / "x.wav", np.ones(10, dtype=np.float32) * 0.1, 8000)
    sf.write(tmp_path / "b" / "x.flac", np.ones(10, dtype=np.float32) * 0.1, 8000)
    with pytest.raises(RobustclapError, match="share the clip id 'x'"):
        find_audio_files(tmp_path)


def test_rand_trunc_crops_reproducibly(extractor):
    fe = AudioFrontEnd(extractor, "rand_trunc", "repeatpad")
    wave = np.random.default_rng(0).normal(0, 0.1, 12 * SR).astype(np.float32)
    a, longer = fe.features(wave, np.random.default_rng(1))
    b, _ = fe.features(wave, np.random.default_rng(1))
    c, _ = fe.features(wave, np.random.default_rng(2))
    assert a.shape == (1, 1001, 64) and a.dtype == np.float32 and longer
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_short_clip_is_repeat_padded(extractor):
    fe = AudioFrontEnd(extractor, "rand_trunc", "repeatpad")
    wave = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    mel, longer = fe.features(wave, np.random.default_rng(0))
    assert not longer
    # repeatpad tiles 3 s three times, then pads 1 s of silence: the last frames are silent
    assert mel[0, 50:250].mean() > mel[0, -50:].mean() + 20


def test_fusion_gives_four_channels_and_the_true_longer_flag(extractor):
    fe = AudioFrontEnd(extractor, "fusion", "repeatpad")
    short = np.random.default_rng(0).normal(0, 0.1, 4 * SR).astype(np.float32)
    long = np.random.default_rng(0).normal(0, 0.1, 15 * SR).astype(np.float32)
    mel_s, longer_s = fe.features(short, np.random.default_rng(0))
    mel_l, longer_l = fe.features(long, np.random.default_rng(0))
    again, _ = fe.features(long, np.random.default_rng(0))
    assert mel_s.shape == mel_l.shape == (4, 1001, 64)
    assert (longer_s, longer_l) == (False, True)  # the extractor alone would mark short True
    assert np.array_equal(mel_l, again)
    assert not fe.is_longer(10 * SR + 100)  # within one hop of the window: same frame count


def test_real_esc50_flac(esc50_dir, extractor):
    path = sorted((esc50_dir / "audio").glob("*.flac"))[0]
    info = sf.info(str(path))
    wave = load_audio(path, SR)
    assert len(wave) == pytest.approx(info.duration * SR, abs=2)
    mel, longer = AudioFrontEnd(extractor, "rand_trunc", "repeatpad").features(
        wave, np.random.default_rng(0))
    assert mel.shape == (1, 1001, 64) and np.isfinite(mel).all() and not longer


def test_real_bigsoundbank_mp3(bigsoundbank_dir, extractor):
    fe = AudioFrontEnd(extractor, "rand_trunc", "repeatpad")
    for path in sorted((bigsoundbank_dir / "audio").glob("*.mp3"))[:3]:
        info = sf.info(str(path))
        wave = load_audio(path, SR)
        # MP3 decoders may add or trim a few ms of padding
        assert abs(len(wave) / SR - info.duration) < 0.1
        mel, _ = fe.features(wave, np.random.default_rng(0))
        assert mel.shape == (1, 1001, 64) and np.isfinite(mel).all()
