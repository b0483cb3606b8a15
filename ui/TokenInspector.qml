// The token inspector: one generated token's id and text, and for each stage of the
// sampling chain (logits, penalties, top-k, top-p, min-p, temperature) the candidates that
// were left with their probabilities, the chosen one marked. `trace` is
// MessageListModel.tokenTrace(): {token, text, display, stages: [{name, remaining,
// candidates: [{token, display, probability, chosen}]}], drafted, draftedDisplay,
// draftAccepted}: with speculative decoding, the draft's token here and whether it was kept.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    property var trace: ({})
    readonly property bool hasTrace: trace !== undefined && trace.stages !== undefined
    signal closeRequested()

    implicitWidth: 420
    implicitHeight: column.implicitHeight + 2 * Theme.spacing
    radius: Theme.radius
    color: Theme.surface
    border.color: Theme.border

    ColumnLayout {
        id: column
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: 6

        RowLayout {
            Layout.fillWidth: true
            Label {
                objectName: "tokenHeading"
                Layout.fillWidth: true
                text: root.hasTrace ? qsTr("Token %1 · “%2”").arg(root.trace.token).arg(root.trace.display)
                                    : qsTr("No sampling trace for this token")
                font.bold: true
                color: Theme.text
                elide: Text.ElideRight
            }
            FlatButton {
                objectName: "closeInspector"
                text: qsTr("Close")
                onClicked: root.closeRequested()
            }
        }

        // Speculative decoding: whether the draft proposed this token or the model replaced
        // the draft's.
        Label {
            objectName: "draftMark"
            Layout.fillWidth: true
            visible: root.hasTrace && root.trace.drafted !== undefined && root.trace.drafted >= 0
            text: !visible ? ""
                  : root.trace.draftAccepted ? qsTr("Drafted · accepted: the draft proposed this token and the model agreed")
                  : qsTr("Drafted · rejected: the draft proposed “%1” (token %2); the model chose this one")
                        .arg(root.trace.draftedDisplay).arg(root.trace.drafted)
            color: root.trace.draftAccepted ? Theme.accent : Theme.mutedText
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }

        Label {
            Layout.fillWidth: true
            visible: root.hasTrace
            text: qsTr("Probabilities after each sampling stage (before temperature, at temperature 1).")
            color: Theme.mutedText
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }

        Repeater {
            objectName: "stages"
            model: root.hasTrace ? root.trace.stages : []
            delegate: ColumnLayout {
                id: stage
                required property var modelData
                Layout.fillWidth: true
                spacing: 2

                Label {
                    text: qsTr("%1 · %2 left").arg(stage.modelData.name).arg(stage.modelData.remaining)
                    color: Theme.text
                    font.pixelSize: 12
                    font.bold: true
                    Layout.topMargin: 4
                }
                Repeater {
                    model: stage.modelData.candidates
                    delegate: RowLayout {
                        id: candidate
                        required property var modelData
                        objectName: modelData.chosen ? "chosenCandidate" : "candidate"
                        Layout.fillWidth: true
                        spacing: 6
                        Label {
                            text: candidate.modelData.display
                            font.family: Theme.monoFamily
                            font.pixelSize: 12
                            font.bold: candidate.modelData.chosen
                            color: candidate.modelData.chosen ? Theme.accent : Theme.text
                            elide: Text.ElideRight
                            Layout.preferredWidth: 110
                        }
                        Rectangle {
                            Layout.fillWidth: true
                            implicitHeight: 8
                            radius: 3
                            color: Theme.raised
                            Rectangle {
                                width: parent.width * Math.max(0, Math.min(1, candidate.modelData.probability))
                                height: parent.height
                                radius: 3
                                color: candidate.modelData.chosen ? Theme.accent : Theme.weightsColor
                            }
                        }
                        Label {
                            text: (100 * candidate.modelData.probability).toFixed(1) + " %"
                            color: Theme.mutedText
                            font.pixelSize: 11
                            horizontalAlignment: Text.AlignRight
                            Layout.preferredWidth: 48
                        }
                    }
                }
            }
        }
    }
}
