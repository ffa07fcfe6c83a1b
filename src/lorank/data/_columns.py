"""Column names that say which column holds what: the one table behind the
delimited-file loaders (header lines, Parquet) and ``Ratings.from_pandas``.

Names are compared after :func:`normalize` (case, spaces, ``_``, ``-`` and
``.`` ignored), so ``userId``, ``user_id``, ``User-ID`` and ``USER ID`` all
name the user.
"""

import re

__all__ = ["ALIASES", "ROLE_NAMES", "normalize", "matches"]

#: Normalized column names of each role.
ALIASES = {
    "user": ("user", "userid", "users", "uid", "u", "customer", "customerid", "reviewer",
             "reviewerid", "member", "memberid", "visitor", "visitorid", "person"),
    "item": ("item", "itemid", "items", "iid", "i", "movie", "movieid", "product",
             "productid", "asin", "isbn", "book", "bookid", "song", "songid", "track",
             "trackid", "artist", "artistid", "business", "businessid", "anime", "animeid"),
    "rating": ("rating", "ratings", "score", "stars", "star", "r", "rate", "value",
               "preference", "bookrating", "userrating"),
    "time": ("timestamp", "time", "ts", "t", "date", "datetime", "unixtime",
             "unixtimestamp", "ratingtime"),
}

#: How messages name each role.
ROLE_NAMES = {"user": "user id", "item": "item id", "rating": "rating", "time": "time"}


def normalize(name):
    """``name`` lower-cased, without spaces, ``_``, ``-`` and ``.``."""
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def matches(names, role):
    """Positions of the names in ``names`` that name ``role``."""
    aliases = ALIASES[role]
    return [k for k, n in enumerate(names) if normalize(n) in aliases]
