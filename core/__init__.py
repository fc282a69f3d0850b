"""The experiment engine: specs, datasets, models, training, cache, job engine.

Importing core never imports TensorFlow or Streamlit: training modules import Keras inside
their functions, so cached results can be shown without paying for it.
"""
