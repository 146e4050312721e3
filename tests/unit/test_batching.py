from finegrain.training.batching import LengthGroupedBatchSampler, ordered_batches


def test_length_grouped_batches_cover_every_example_once_with_little_padding():
    lengths = [(i * 37) % 50 + 1 for i in range(203)]
    sampler = LengthGroupedBatchSampler(lengths, 16, seed=3)
    batches = sampler.batches()
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert len(batches) == len(sampler) == 13
    real = sum(lengths)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert real / padded > 0.9


def test_batches_are_deterministic_per_epoch_and_change_between_epochs():
    lengths = [5] * 40 + [9] * 40
    sampler = LengthGroupedBatchSampler(lengths, 8, seed=0)
    first = sampler.batches()
    assert first == LengthGroupedBatchSampler(lengths, 8, seed=0).batches()
    sampler.epoch = 1
    assert sampler.batches() != first


def test_without_grouping_batches_are_plain_shuffles():
    sampler = LengthGroupedBatchSampler(list(range(10)), 4, seed=0, group_by_length=False, drop_last=True)
    batches = sampler.batches()
    assert len(batches) == len(sampler) == 2 and all(len(b) == 4 for b in batches)


def test_ordered_batches_run_longest_first():
    assert ordered_batches([1, 5, 3], 2) == [[1, 2], [0]]
