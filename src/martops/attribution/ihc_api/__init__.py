"""Client of the IHC attribution API (`--model ihc_api`): chunked, resumable, fault-tolerant.

payload  journeys -> request rows, fingerprints, chunks that never split a journey
client   one request with retries, backoff, Retry-After, pacing; the key stays out of messages
answers  validation of a response against what was sent
store    answers persisted per chunk; failures and requests logged in ops tables
runner   the whole exchange for a range, resumable
"""
