"""The allocation engine: seeker registers, random draws, and the allocator that routes
each vacancy through channels (first taker wins)."""
