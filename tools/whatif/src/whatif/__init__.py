"""What if: the recorded history replayed under two policies, offline, and what changes."""
