// A horizontal bar split into coloured parts, each `parts[i].value` of `total`.
pragma ComponentBehavior: Bound
import QtQuick

Rectangle {
    id: root

    property var parts: [] // [{value, color}]
    property real total: 1

    implicitHeight: 10
    radius: height / 2
    color: Theme.raised
    border.color: Theme.border
    clip: true

    Row {
        anchors.fill: parent
        Repeater {
            model: root.parts
            delegate: Rectangle {
                required property var modelData
                height: root.height
                width: root.total > 0 ? Math.max(0, root.width * modelData.value / root.total) : 0
                color: modelData.color
            }
        }
    }
}
