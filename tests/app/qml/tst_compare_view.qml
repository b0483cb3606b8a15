// CompareView without an engine: the columns follow the controller (add, shoot-out,
// remove), a refused setting shows its error and keeps the old value, and sending with no
// engine says so instead of doing nothing.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 1400
    height: 800

    Component {
        id: viewComponent
        CompareView {
            anchors.fill: parent
            controller: CompareController {}
        }
    }

    TestCase {
        name: "CompareView"
        when: windowShown

        function columnsOf(view) {
            const list = findChild(view, "columnRepeater")
            list.forceLayout()
            const items = []
            for (let i = 0; i < list.count; ++i)
                items.push(list.itemAtIndex(i))
            return items
        }

        function test_columnsFollowTheController() {
            const view = createTemporaryObject(viewComponent, top)
            compare(columnsOf(view).length, 2)
            mouseClick(findChild(view, "addColumn"))
            compare(columnsOf(view).length, 3)
            mouseClick(findChild(view, "shootout"))
            const columns = columnsOf(view)
            compare(columns.length, 4)
            compare(columns[2].templateName, "llama3")
            compare(findChild(columns[1], "templatePicker").currentText, "chatml")
            compare(findChild(view, "addColumn").enabled, false)
            mouseClick(findChild(columns[3], "removeColumn"))
            compare(columnsOf(view).length, 3)
        }

        function test_refusedSettingShowsError() {
            const view = createTemporaryObject(viewComponent, top)
            const field = findChild(columnsOf(view)[0], "field_temperature")
            field.forceActiveFocus()
            field.selectAll()
            keyClick(Qt.Key_Minus)
            keyClick(Qt.Key_1)
            keyClick(Qt.Key_Return)
            const error = findChild(view, "compareError")
            verify(error.visible)
            verify(error.text.indexOf("temperature") >= 0, error.text)
            compare(field.text, "0.7")
            compare(columnsOf(view)[0].temperature, 0.7)
        }

        function test_sendWithoutEngineSaysSo() {
            const view = createTemporaryObject(viewComponent, top)
            const input = findChild(view, "composerInput")
            input.forceActiveFocus()
            keyClick(Qt.Key_H)
            keyClick(Qt.Key_Return)
            verify(findChild(view, "compareError").text.indexOf("no engine") >= 0)
            compare(view.controller.userMessages.length, 0)
        }
    }
}
