"""The system model (custodes.yaml): schema, safe loader with file:line errors, graph."""

from custodes.system.graph import Node, SystemGraph
from custodes.system.loader import LoadedSystem, load_system, parse_system
from custodes.system.schema import SystemModel

__all__ = ["LoadedSystem", "Node", "SystemGraph", "SystemModel", "load_system", "parse_system"]
