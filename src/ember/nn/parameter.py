"""(stub: filled in by its owner)."""


class Parameter:  # replaced by the nn owner
    pass


Buffer = UninitializedParameter = Parameter
