"""Feature views: the stateful layer's read contract, shared by training and inference.

A view declares which feature group versions and columns a model reads; `point_in_time_sql`
builds its rows for any spine, so training and inference cannot build features differently.
"""
