"""Loyalty programme: the statistics of the randomised enrolled-versus-control test."""
