"""NNTP news: the store of newsgroups, the protocol, and the .newsrc of read marks."""
