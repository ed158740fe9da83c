import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _seed_and_restore():
    """Each test starts from the same seed and default dtype."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
    ember.set_default_dtype(ember.float32)
