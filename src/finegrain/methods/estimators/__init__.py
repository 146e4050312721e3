"""Methods that are not trained by the loop end to end: a fitted estimator (scikit-learn) on text
features or encoder embeddings. They share the run directory, metrics and reports of neural runs;
``training/estimator_runner.py`` runs them.
"""
