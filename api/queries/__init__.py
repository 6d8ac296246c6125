"""SQL per resource. Every function takes a ``Connection`` and, where objects are
scoped, the calling ``Principal``: the scope is a predicate inside the query itself
(``api.access``), never a filter applied to rows after they were read."""
