"""Diversity across seeds: a model that draws the same picture for every seed scores lowest, one
that draws unrelated noise highest, on the pixel measure (MS-SSIM) and on both embedding
measures; one seed is refused with a message that says what is missing."""

import numpy as np
import pytest

from ratings.stats.diversity import (
    mean_cosine_distance,
    model_diversity,
    ms_ssim,
    ms_ssim_scales,
    pairwise_ms_ssim,
    pixel_diversity,
    vendi_score,
)

SEEDS, PROMPTS, SIZE = 4, 6, 64


def three_models(rng):
    """images[model][prompt]: uint8[SEEDS, SIZE, SIZE, 3]. Model 0 returns one picture for every
    seed; model 1 the same picture with a little noise per seed; model 2 independent noise."""
    images = [[], [], []]
    for _ in range(PROMPTS):
        # A smooth picture (blurred blobs), as a generator draws, not white noise.
        base = rng.random((SIZE // 8, SIZE // 8, 3)).repeat(8, axis=0).repeat(8, axis=1)
        base = (255 * base).astype(np.uint8)
        images[0].append(np.stack([base] * SEEDS))
        jitter = rng.integers(-25, 26, (SEEDS, SIZE, SIZE, 3))
        images[1].append(np.clip(base.astype(int) + jitter, 0, 255).astype(np.uint8))
        images[2].append(rng.integers(0, 256, (SEEDS, SIZE, SIZE, 3), dtype=np.uint8))
    return images


def embed(stack, projection):
    """A stand-in for an image encoder: a fixed random projection of the centred pixels."""
    flat = stack.reshape(stack.shape[0], -1).astype(np.float64) / 255.0 - 0.5
    return flat @ projection


@pytest.fixture(scope="module")
def models():
    return three_models(np.random.default_rng(0))


def test_same_image_for_every_seed_is_least_diverse_and_noise_most_on_every_measure(models):
    projection = np.random.default_rng(1).normal(size=(SIZE * SIZE * 3, 64))
    measures = {
        "pixel": pixel_diversity,
        "vendi": lambda stack: vendi_score(embed(stack, projection)),
        "cosine": lambda stack: mean_cosine_distance(embed(stack, projection)),
    }
    for name, measure in measures.items():
        rows = [(m, p, measure(models[m][p])) for m in range(3) for p in range(PROMPTS)]
        model, prompt, value = (np.array(column) for column in zip(*rows))
        result = model_diversity(model, prompt, value, rounds=500, seed=0)
        assert result.mean[0] < result.mean[1] < result.mean[2], (name, result.mean)
        # The intervals do not even overlap: the ordering is not a coin toss over prompts.
        assert result.high[0] < result.low[1] and result.high[1] < result.low[2], (name, result.low, result.high)
        assert list(result.prompts) == [PROMPTS] * 3
    same, noise = models[0][0], models[2][0]
    assert pixel_diversity(same) == pytest.approx(0.0, abs=1e-9)
    assert pixel_diversity(noise) > 0.9
    assert vendi_score(embed(same, projection)) == pytest.approx(1.0)
    # Independent noise embeds near-orthogonally: close to SEEDS distinct images.
    assert vendi_score(embed(noise, projection)) > 0.9 * SEEDS
    assert mean_cosine_distance(embed(same, projection)) == pytest.approx(0.0, abs=1e-12)
    assert mean_cosine_distance(embed(noise, projection)) > 0.8


@pytest.mark.parametrize("measure", [pixel_diversity, pairwise_ms_ssim, vendi_score, mean_cosine_distance])
def test_one_seed_is_refused_with_a_message_naming_what_is_missing(measure):
    one = np.zeros((1, 16, 16, 3), dtype=np.uint8) if measure in (pixel_diversity, pairwise_ms_ssim) else np.ones((1, 8))
    with pytest.raises(ValueError) as error:
        measure(one)
    message = str(error.value)
    assert "at least two" in message and "got 1" in message and "two or more seeds" in message


def brute_force_ssim(x, y, size=11, sigma=1.5):
    """Single-scale SSIM written out window by window (Wang et al. 2004), for one channel."""
    g = np.exp(-((np.arange(size) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - size + 1):
        for j in range(x.shape[1] - size + 1):
            a, b = x[i : i + size, j : j + size], y[i : i + size, j : j + size]
            mu_a, mu_b = (w * a).sum(), (w * b).sum()
            var_a, var_b = (w * a * a).sum() - mu_a**2, (w * b * b).sum() - mu_b**2
            cov = (w * a * b).sum() - mu_a * mu_b
            values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_one_scale_ms_ssim_is_plain_ssim_and_the_measure_is_symmetric():
    rng = np.random.default_rng(3)
    x = rng.random((14, 15))
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    assert ms_ssim_scales(14, 15) == (1, 11)  # too small for a second scale
    assert ms_ssim(x, y) == pytest.approx(brute_force_ssim(x, y), rel=1e-10)
    assert ms_ssim(x, y) == pytest.approx(ms_ssim(y, x), rel=1e-12)
    # Colour: the mean over channels; a grey picture in three channels is the grey one.
    assert ms_ssim(np.dstack([x] * 3), np.dstack([y] * 3)) == pytest.approx(ms_ssim(x, y), rel=1e-12)


def test_scales_shrink_for_small_images_and_all_five_are_used_from_176_pixels():
    assert ms_ssim_scales(512, 512) == (5, 11)
    assert ms_ssim_scales(176, 176) == (5, 11)
    assert ms_ssim_scales(175, 512) == (4, 11)
    assert ms_ssim_scales(64, 64) == (3, 11)
    assert ms_ssim_scales(8, 8) == (1, 7)  # narrower than the window: a smaller window
    rng = np.random.default_rng(4)
    tiny = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert pairwise_ms_ssim(tiny).shape == (3,)
    assert np.isfinite(pairwise_ms_ssim(tiny)).all()


def test_a_prompt_a_model_lacks_is_left_out_of_its_mean_not_counted_as_zero():
    model = np.array([0, 0, 1])
    prompt = np.array(["p1", "p2", "p1"])
    result = model_diversity(model, prompt, np.array([0.2, 0.4, 0.5]), rounds=200)
    assert result.mean == pytest.approx([0.3, 0.5])
    assert list(result.prompts) == [2, 1]
    assert result.low[1] == result.high[1] == pytest.approx(0.5)
