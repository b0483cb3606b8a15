// The Template panel: the chat template for this conversation, the exact prompt the model
// will be given with it (special tokens highlighted), its length in tokens, and warnings.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root

    required property TemplatePreview preview
    spacing: Theme.spacing

    Label { text: qsTr("Chat template"); font.bold: true; color: Theme.text; Layout.margins: Theme.spacing; Layout.bottomMargin: 0 }
    ComboBox {
        id: choice
        objectName: "templateChoice"
        Layout.fillWidth: true
        Layout.leftMargin: Theme.spacing
        Layout.rightMargin: Theme.spacing
        model: root.preview.templates
        textRole: "label"
        valueRole: "name"
        currentIndex: Math.max(0, indexOfValue(root.preview.templateName))
        onActivated: root.preview.templateName = currentValue
        Accessible.name: qsTr("Chat template")
    }
    Label {
        Layout.fillWidth: true
        Layout.leftMargin: Theme.spacing
        Layout.rightMargin: Theme.spacing
        wrapMode: Text.Wrap
        color: Theme.mutedText
        font.pixelSize: 12
        visible: root.preview.resolvedName.length > 0
        text: qsTr("Using %1%2").arg(root.preview.resolvedName)
                  .arg(root.preview.reason.length > 0 ? " — " + root.preview.reason : "")
    }
    Repeater {
        model: root.preview.warnings
        delegate: Label {
            required property string modelData
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            wrapMode: Text.Wrap
            color: Theme.warning
            text: "⚠ " + modelData
        }
    }
    Label {
        Layout.fillWidth: true
        Layout.leftMargin: Theme.spacing
        wrapMode: Text.Wrap
        visible: root.preview.error.length > 0
        color: Theme.error
        text: root.preview.error
    }
    RowLayout {
        Layout.leftMargin: Theme.spacing
        Layout.rightMargin: Theme.spacing
        visible: root.preview.text.length > 0
        Label { text: qsTr("Prompt preview"); font.bold: true; color: Theme.text; Layout.fillWidth: true }
        Label {
            objectName: "tokenCount"
            text: qsTr("%n token(s)", "", root.preview.tokenCount)
            color: Theme.mutedText
        }
    }
    Rectangle {
        Layout.fillWidth: true
        Layout.fillHeight: true
        Layout.margins: Theme.spacing
        Layout.topMargin: 0
        color: Theme.codeBackground
        border.color: Theme.border
        radius: 6
        ScrollView {
            anchors.fill: parent
            anchors.margins: 1
            TextArea {
                objectName: "promptPreview"
                readOnly: true
                selectByMouse: true
                textFormat: TextEdit.RichText
                wrapMode: TextEdit.WrapAnywhere
                font.family: Theme.monoFamily
                font.pixelSize: 12
                color: Theme.text
                background: null
                text: root.preview.html
                Accessible.name: qsTr("Prompt preview")
            }
        }
    }
}
