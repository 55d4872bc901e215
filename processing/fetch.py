class Fetcher:
    pass


class FetchLimits:
    pass
