"""Rendering helpers every layer may use: Markdown tables and sections, matplotlib figures.

They know nothing of tasks or runs, so tasks render their own report sections with them and
evaluation/study assemble the pages.
"""
