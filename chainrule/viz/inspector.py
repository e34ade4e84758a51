class Inspector: pass
class InspectorWarning(UserWarning): pass
