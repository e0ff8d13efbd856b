"""New versions of a diagram for tests: a task added after another, an element renamed or removed.

The edits work on the XML as a process owner's tool would write it: flows, lanes and shapes follow.
"""

from __future__ import annotations

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
_NS = {"bpmn": BPMN, "bpmndi": DI}


def _tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _by_id(root: etree._Element, ident: str) -> etree._Element:
    [found] = root.xpath(f"//*[@id='{ident}']")
    return found


def _flows(root: etree._Element, **attrs: str) -> list[etree._Element]:
    [(name, value)] = attrs.items()
    return root.xpath(f"//bpmn:sequenceFlow[@{name}='{value}']", namespaces=_NS)


def add_task_after(xml: bytes, element_id: str, new_id: str, name: str = "مهمة جديدة", kind: str = "userTask",
                   inner: str = "") -> bytes:
    """Put a new task (a form-less user task unless ``kind`` says) between ``element_id`` and what follows it."""
    root = _tree(xml)
    element = _by_id(root, element_id)
    process = element.getparent()
    outgoing = _flows(root, sourceRef=element_id)
    link = f"flow_{element_id}_{new_id}"
    for flow in outgoing:
        flow.set("sourceRef", new_id)
    for out in element.findall(f"{{{BPMN}}}outgoing"):
        element.remove(out)
    new_out = etree.SubElement(element, f"{{{BPMN}}}outgoing")
    new_out.text = link
    task = etree.Element(f"{{{BPMN}}}{kind}", id=new_id, name=name)
    if inner:
        for child in etree.fromstring(f'<x xmlns:bpmn="{BPMN}">{inner}</x>'):
            task.append(child)
    etree.SubElement(task, f"{{{BPMN}}}incoming").text = link
    for flow in outgoing:
        etree.SubElement(task, f"{{{BPMN}}}outgoing").text = flow.get("id")
    element.addnext(task)
    process.append(etree.Element(f"{{{BPMN}}}sequenceFlow", id=link, sourceRef=element_id, targetRef=new_id))
    for ref in root.xpath(f"//bpmn:flowNodeRef[text()='{element_id}']", namespaces=_NS):
        etree.SubElement(ref.getparent(), f"{{{BPMN}}}flowNodeRef").text = new_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rename(xml: bytes, old_id: str, new_id: str) -> bytes:
    """The element ``old_id`` under the id ``new_id`` (flows, lanes and shapes follow)."""
    root = _tree(xml)
    _by_id(root, old_id).set("id", new_id)
    for attr in ("sourceRef", "targetRef", "bpmnElement", "attachedToRef"):
        for node in root.xpath(f"//*[@{attr}='{old_id}']"):
            node.set(attr, new_id)
    for ref in root.xpath(f"//bpmn:flowNodeRef[text()='{old_id}']", namespaces=_NS):
        ref.text = new_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def remove(xml: bytes, element_id: str) -> bytes:
    """The diagram without ``element_id``: its incoming flows go straight to what followed it (one outgoing flow)."""
    root = _tree(xml)
    element = _by_id(root, element_id)
    [out] = _flows(root, sourceRef=element_id)
    target = _by_id(root, out.get("targetRef"))
    for flow in _flows(root, targetRef=element_id):
        flow.set("targetRef", target.get("id"))
        incoming = etree.Element(f"{{{BPMN}}}incoming")
        incoming.text = flow.get("id")
        target.find(f"{{{BPMN}}}incoming").addprevious(incoming)  # incoming flows come before outgoing ones
    for incoming in target.findall(f"{{{BPMN}}}incoming"):
        if incoming.text == out.get("id"):
            target.remove(incoming)
    for node in (element, out, *root.xpath(f"//bpmndi:*[@bpmnElement='{element_id}' or "
                                           f"@bpmnElement='{out.get('id')}']", namespaces=_NS),
                 *root.xpath(f"//bpmn:flowNodeRef[text()='{element_id}']", namespaces=_NS)):
        node.getparent().remove(node)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def set_text(xml: bytes, element_id: str, tag: str, text: str) -> bytes:
    """The diagram with the text of ``element_id``'s descendant ``tag`` (``timeDate``, say) set to ``text``."""
    root = _tree(xml)
    [node] = _by_id(root, element_id).iter(f"{{{BPMN}}}{tag}")
    node.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
