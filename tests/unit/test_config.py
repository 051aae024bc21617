"""Every invalid configuration gets its own error naming parameter, range and value."""

import math

import pytest

from simulator.config import (ConfigError, DataConfig, EvalConfig, NetworkConfig, RunConfig,
                              TrainConfig, apply_overrides, load_run_config, parse_override)

INVALID = [
    # (id, config class, kwargs, expected message fragment)
    ("k>D", DataConfig, dict(input_dim=16, sparsity=17),
     "'sparsity' parameter of DataConfig must be a float in the range (0, dictionary_size=16]. Got 17"),
    ("k<=0", DataConfig, dict(sparsity=0), "'sparsity' parameter of DataConfig must be a float in the range (0,"),
    ("k-negative", DataConfig, dict(sparsity=-3), "Got -3 instead"),
    ("D<d", DataConfig, dict(input_dim=32, n_features=16), "'n_features' parameter of DataConfig must be an int in the range [input_dim=32, inf) or None. Got 16"),
    ("margin<=0", DataConfig, dict(margin=0.0), "'margin' parameter of DataConfig must be a float in the range (0, inf). Got 0.0"),
    ("noise-nan", DataConfig, dict(noise=math.nan), "'noise' parameter of DataConfig must be a float in the range [0, inf). Got nan"),
    ("noise-inf", DataConfig, dict(noise=math.inf), "'noise' parameter of DataConfig"),
    ("dim-str", DataConfig, dict(input_dim="512"), "'input_dim' parameter of DataConfig must be an int in the range [1, inf). Got '512'"),
    ("dim-float", DataConfig, dict(input_dim=3.5), "'input_dim' parameter of DataConfig must be an int"),
    ("dim-bool", DataConfig, dict(input_dim=True), "'input_dim' parameter of DataConfig must be an int"),
    ("law", DataConfig, dict(value_law="laplace"), "'value_law' parameter of DataConfig must be one of {'sign', 'uniform', 'gaussian'}. Got 'laplace'"),
    ("theta>=1", NetworkConfig, dict(threshold=1.0), "'threshold' parameter of NetworkConfig must be a float in the range [0, 1). Got 1.0"),
    ("theta<0", NetworkConfig, dict(threshold=-0.1), "'threshold' parameter of NetworkConfig must be a float in the range [0, 1)"),
    ("width<1", NetworkConfig, dict(width=0), "'width' parameter of NetworkConfig must be an int in the range [1, inf). Got 0"),
    ("init<=0", NetworkConfig, dict(init_scale=0.0), "'init_scale' parameter of NetworkConfig"),
    ("dtype", NetworkConfig, dict(dtype="float16"), "'dtype' parameter of NetworkConfig must be one of {'float64', 'float32'}"),
    ("rule", NetworkConfig, dict(threshold_rule="adaptive"), "'threshold_rule' parameter of NetworkConfig"),
    ("tau<0", TrainConfig, dict(adv_tau=-0.1), "'adv_tau' parameter of TrainConfig must be a float in the range [0, inf). Got -0.1"),
    ("lr<=0", TrainConfig, dict(step_size=0), "'step_size' parameter of TrainConfig must be a float in the range (0, 10000]"),
    ("lr-huge", TrainConfig, dict(step_size=1e30), "'step_size' parameter of TrainConfig must be a float in the range (0, 10000]. Got 1e+30"),
    ("adv-lr-huge", TrainConfig, dict(adv_step_size=1e5), "'adv_step_size' parameter of TrainConfig must be a float in the range (0, 10000]. Got 100000.0"),
    ("init-huge", NetworkConfig, dict(init_scale=1e300), "'init_scale' parameter of NetworkConfig must be a float in the range (0, 1000000]. Got 1e+300"),
    ("batch<1", TrainConfig, dict(batch_size=0), "'batch_size' parameter of TrainConfig"),
    ("attack", TrainConfig, dict(adv_attack="cw"), "'adv_attack' parameter of TrainConfig must be one of {'fgm', 'pgd'}"),
    ("progress", TrainConfig, dict(progress="yes"), "'progress' parameter of TrainConfig must be a bool"),
    ("feature-path", TrainConfig, dict(feature_path="yes"),
     "'feature_path' parameter of TrainConfig must be one of {'auto', 'on', 'off'}. Got 'yes'"),
    ("adv-rank<1", TrainConfig, dict(adv_rank=0),
     "'adv_rank' parameter of TrainConfig must be an int in the range [1, inf) or None. Got 0 instead"),
    ("adv-rank-float", TrainConfig, dict(adv_rank=2.5), "'adv_rank' parameter of TrainConfig must be an int"),
    ("adv-rank-str", TrainConfig, dict(adv_rank="2"), "'adv_rank' parameter of TrainConfig must be an int"),
    ("adv-rank>full", RunConfig, dict(network=NetworkConfig(width=8), train=TrainConfig(adv_rank=9)),
     "'adv_rank' parameter of TrainConfig must be an int in the range [1, min(network.width, "
     "data.input_dim)=8] or None. Got 9 instead"),
    ("eval-tau<0", EvalConfig, dict(taus=(0.1, -0.2)), "'taus[1]' parameter of EvalConfig must be a float in the range [0, inf). Got -0.2"),
    ("eval-taus-empty", EvalConfig, dict(taus=()), "'taus' parameter of EvalConfig must be a sequence of at least 1"),
    ("eval-norm", EvalConfig, dict(norms=("l1",)), "'norms[0]' parameter of EvalConfig must be one of {'l2', 'linf'}"),
    ("seed<0", RunConfig, dict(seed=-1), "'seed' parameter of RunConfig must be an int in the range [0,"),
    ("threads", RunConfig, dict(threads=0), "'threads' parameter of RunConfig"),
    ("sub-type", RunConfig, dict(data={"input_dim": 4}), "'data' parameter of RunConfig must be a DataConfig"),
    ("feature-path-noisy", RunConfig, dict(train=TrainConfig(feature_path="on")),
     "'feature_path' parameter of TrainConfig can be 'on' only for noiseless data (data.noise == 0) "
     "with a unitary dictionary (data.n_features None or equal to input_dim). Got noise=0.1 and "
     "n_features=None (input_dim=512) instead"),
]


@pytest.mark.parametrize("cls,kwargs,message", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_config_raises_named_error(cls, kwargs, message):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert message in str(info.value)


def test_configs_are_frozen_hashable_and_round_trip():
    cfg = RunConfig(seed=3, data=DataConfig(input_dim=64, sparsity=4))
    with pytest.raises(Exception):
        cfg.seed = 4
    assert hash(cfg) == hash(RunConfig.from_dict(cfg.to_dict()))
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.data.dictionary_size == 64 and cfg.data.activation_prob == 4 / 64


def test_toml_file_and_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("seed = 5\n[data]\ninput_dim = 64\nsparsity = 4\n[eval]\ntaus = [0.2, 0.1]\n")
    cfg = load_run_config(p)
    assert cfg.seed == 5 and cfg.data.input_dim == 64 and cfg.eval.taus == (0.1, 0.2)
    cfg2 = apply_overrides(cfg, dict([parse_override("network.width=8"),
                                      parse_override("train.adv_norm=linf")]))
    assert cfg2.network.width == 8 and cfg2.train.adv_norm == "linf"


@pytest.mark.parametrize("text,message", [
    ("seed = 1\n[data]\nsparsity = 4\nbogus = 2\n", "Unknown key(s) ['bogus'] for DataConfig"),
    ("seed = 1\nfoo = 2\n", "Unknown key(s) ['foo'] for RunConfig"),
    ("seed = = 1\n", "is not valid TOML"),
    ("[data]\nsparsity = 0\n", "'sparsity' parameter of DataConfig"),
], ids=["unknown-data-key", "unknown-top-key", "malformed", "invalid-value"])
def test_bad_config_file(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_run_config(p)
    assert message in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_run_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("key,message", [
    ("data.nope", "Unknown config key 'data.nope'"),
    ("nope.sparsity", "Unknown config section 'nope'"),
])
def test_bad_override(key, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        apply_overrides(RunConfig(), {key: 1})


def test_adv_rank_round_trips_and_loads_from_toml(tmp_path):
    cfg = RunConfig(train=TrainConfig(adv_rank=2))
    assert RunConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["train"]["adv_rank"] == 2
    assert RunConfig().train.adv_rank is None  # the full update by default
    assert TrainConfig(adv_rank=4.0).adv_rank == 4  # an integral float is an int, as elsewhere
    p = tmp_path / "c.toml"
    p.write_text("[train]\nadv_rank = 3\n")
    assert load_run_config(p).train.adv_rank == 3
    assert apply_overrides(RunConfig(), dict([parse_override("train.adv_rank=2")])).train.adv_rank == 2
