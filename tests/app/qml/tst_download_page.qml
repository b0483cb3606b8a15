// DownloadPage against a real DownloadController: the built-in catalog, search and filters,
// a bad link's message, the fit badges, each entry's architecture, and the entries Hearth
// cannot run yet listed disabled with the reason.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 700
    height: 1200

    Component {
        id: pageComponent
        DownloadPage { width: 680; height: 1180; controller: DownloadController {} }
    }

    TestCase {
        name: "DownloadPage"
        when: windowShown

        function test_catalogIsListed() {
            const page = createTemporaryObject(pageComponent, top)
            const list = findChild(page, "catalogList")
            verify(list.count >= 12)
            compare(page.controller.catalogError, "")
            verify(page.controller.families.indexOf("Qwen2.5") >= 0)
            // Every file has a size estimate and a badge among the known ones.
            for (const entry of page.controller.catalog) {
                for (const file of entry.files) {
                    verify(file.size > 0, entry.id + " " + file.quantization)
                    verify(["fits", "tight", "wont_fit"].indexOf(file.fit) >= 0, file.fit)
                }
            }
        }

        function test_architecturesAndEntriesNotYetRunnable() {
            const page = createTemporaryObject(pageComponent, top)
            const list = findChild(page, "catalogList")
            let coming = -1
            for (let i = 0; i < list.count; ++i) {
                const entry = page.controller.catalog[i]
                const row = list.itemAt(i)
                verify(findChild(row, "entryFacts").text.indexOf(" · " + entry.architecture + " · ") > 0,
                       entry.id)
                const reason = findChild(row, "cannotRun")
                compare(reason.visible, entry.cannotRun.length > 0, entry.id)
                if (entry.cannotRun.length > 0 && coming < 0)
                    coming = i
            }
            if (coming < 0)
                skip("every catalog entry runs now")
            const entry = page.controller.catalog[coming]
            verify(entry.cannotRun.indexOf("Hearth cannot run " + entry.architecture + " models yet (it runs llama") === 0,
                   entry.cannotRun)
            compare(findChild(list.itemAt(coming), "cannotRun").text, entry.cannotRun)
            // Its download buttons are disabled; a runnable entry's (the first) are not.
            const buttons = []
            const collect = item => {
                const children = item.children || []
                for (let i = 0; i < children.length; ++i) {
                    if (children[i].objectName === "quantButton")
                        buttons.push(children[i])
                    collect(children[i])
                }
            }
            collect(list.itemAt(coming))
            compare(buttons.length, entry.files.length)
            for (const button of buttons)
                verify(!button.enabled, button.text)
            buttons.length = 0
            collect(list.itemAt(0))
            verify(buttons.length > 0)
            for (const button of buttons)
                verify(button.enabled, button.text)
            compare(findChild(page, "heldDownload").visible, false)
        }

        function test_searchAndFilters() {
            const page = createTemporaryObject(pageComponent, top)
            const list = findChild(page, "catalogList")
            const all = list.count
            findChild(page, "searchField").text = "qwen"
            tryVerify(() => list.count > 0 && list.count < all, 60000)
            for (const entry of page.controller.catalog)
                verify(entry.name.indexOf("Qwen") >= 0, entry.name)
            findChild(page, "searchField").text = ""
            page.controller.sizeFilter = "large"
            tryVerify(() => list.count > 0 && list.count < all, 60000)
            for (const entry of page.controller.catalog)
                verify(entry.parameters > 10e9, entry.name)
            page.controller.sizeFilter = ""
            page.controller.familyFilter = "Gemma"
            for (const entry of page.controller.catalog)
                compare(entry.family, "Gemma")
        }

        function test_fitFollowsAvailableMemory() {
            const page = createTemporaryObject(pageComponent, top)
            page.controller.availableBytes = 256 * 1024 * 1024   // 256 MiB: nothing but the tiniest
            const tiny = page.controller.catalog.find(e => e.id === "smollm2-135m-instruct")
            compare(tiny.files[0].fit, "fits")
            const big = page.controller.catalog.find(e => e.id === "llama-3.3-70b-instruct")
            compare(big.files[0].fit, "wont_fit")
        }

        function test_badLinkSaysWhy() {
            const page = createTemporaryObject(pageComponent, top)
            const field = findChild(page, "linkField")
            field.text = "not a repo"
            field.accepted()
            verify(page.controller.lookupError.indexOf("owner/repo") >= 0, page.controller.lookupError)
            compare(page.controller.lookupFiles.length, 0)
        }
    }
}
