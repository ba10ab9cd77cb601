"""Known MetalLB releases: tags, manifest files, their sha256 digests, and where to download them.

Pure data and lookups (no I/O). The digests are those of the files served at URL_PATTERN for each tag, computed from
the upstream git objects; a download is verified against them before anything is applied.

API (stable; other modules import it):
    RELEASES            {tag: {file name: (bytes, sha256)}}, oldest first
    TAGS                the tags, oldest first;  DEFAULT_TAG = TAGS[-1] (the newest)
    MODES               ("native", "frr", "frr-k8s")
    parse_version(text) "v0.14.9" / "0.14.9" -> (0, 14, 9); ValueError if it is not a version
    normalize_tag(text) "0.14.9" -> "v0.14.9" (known or not)
    manifest_file(mode, prometheus=False) -> file name, e.g. "metallb-frr-k8s-prometheus.yaml"
    artifact(tag=None, mode="native", prometheus=False) -> Artifact(tag, file, url, size, sha256);
                        ReleaseError (a ValueError) with a one-line reason for an unknown tag or missing file
    known_digest(sha256) -> (tag, file) of the release file with that digest, or None
    min_kubernetes(tag) -> (major, minor) the release is documented to need, or None if no floor is documented
    webhook_names(tag)  -> (Service name, Secret name) of the validating webhook in that release's manifests
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from metallb_plugin.core.text import echo

URL_PATTERN = "https://raw.githubusercontent.com/metallb/metallb/{tag}/config/manifests/{file}"
MODES = ("native", "frr", "frr-k8s")

# tag -> {file: (size in bytes, sha256)}, from the upstream git objects at each tag.
# v0.13.0-v0.13.4 shipped no prometheus variants; frr-k8s files exist from v0.14.0.
RELEASES = {
    "v0.13.0": {
        "metallb-native.yaml": (60719, "8e1243dc7131b56cdf431dfe77eb0c0ed88060a486a3c44d7d41dbec7a035032"),
        "metallb-frr.yaml": (66828, "6c4f5bf9e1bc52e96f934a85a4f0fc75e322779e87dd12e60a06234b38410032"),
    },
    "v0.13.1": {
        "metallb-native.yaml": (60719, "ef9f8c1f3d65dbe40ae75c53878b4c113281e2b1452006ac69bab48743174227"),
        "metallb-frr.yaml": (66828, "e92c7a538d2e6c5b54458de86f0c771a22021e2d7b0414429a8c2f760cfb3d3c"),
    },
    "v0.13.2": {
        "metallb-native.yaml": (60719, "002ce7f4e12086829d301cfd8ce0d039a52da438560c2d7536ecf80cb636fb98"),
        "metallb-frr.yaml": (66828, "2238680076f7c01a76594b08aabb43d2dd3b2d5b7b11487a23705ea26b72d4fb"),
    },
    "v0.13.3": {
        "metallb-native.yaml": (60719, "9695426e42aaedc0048475f8dafbe11d53dc141b63b87e0651d19f07d2fefbe3"),
        "metallb-frr.yaml": (66828, "640a294956c85a6bcbe9e7e599ad9367293ce475384fffea577d202177f8e292"),
    },
    "v0.13.4": {
        "metallb-native.yaml": (66369, "9ec8ae334d6a44a0ee183e8042f93fda59a03aa37579d6cccbddcc03baf4ec5b"),
        "metallb-frr.yaml": (72478, "0085bdf10ea196f02dcda970853442ca2972b3fb8843c3b3ec30a0de10aee391"),
    },
    "v0.13.5": {
        "metallb-native.yaml": (64992, "b477af38dd34ab127fbec905ec1db4ff537bfd3c1490b1d6eed833486576808f"),
        "metallb-frr.yaml": (71101, "c219d43360c8cdee95f1de66e75f1e5332e8499f6ee24a05bfd1f8c8fa7cf9e2"),
        "metallb-native-prometheus.yaml": (69022, "fb1217708cebd7682e2e10ac644a15fc0378138ee1c3ec477c731de8c70d9b8f"),
        "metallb-frr-prometheus.yaml": (76143, "574b2a6022243edbc04468133b93dc60c0418297f6b4423b3335cdf5ac12ab36"),
    },
    "v0.13.6": {
        "metallb-native.yaml": (65397, "c8c51da82347deab9eaf67b9d6dd9c7776daf2986ff95992c977f9bf7a41478f"),
        "metallb-frr.yaml": (71506, "fa42797dcc66090f9097684c47d2adf193beb6d8dacc42ec4203ddc98f9e2696"),
        "metallb-native-prometheus.yaml": (69427, "75f56ee1ea52e4e31652f41696382d9e541d3724602218047b54e09b8184ccd4"),
        "metallb-frr-prometheus.yaml": (76548, "37a6da5591e2dfb0331c28d507fb7a7de9f2d7c806fab0d69b837549b715a132"),
    },
    "v0.13.7": {
        "metallb-native.yaml": (67376, "241df5f65d4a13768cdc0456e294cde4f6f96d62e70af3789b3456faee5dea2f"),
        "metallb-frr.yaml": (73485, "eb4d5610aba79c6b41190e51663839a37e25611f70979ae3dae560dc53b38bc3"),
        "metallb-native-prometheus.yaml": (71406, "8805c75d7ec223f6d6f102251f844ac7a4d68569362431dc28028300aa112950"),
        "metallb-frr-prometheus.yaml": (78527, "81a677e06cb82920f7fdf01fea83feda4d3aa06e36d73a4c65891792bfc76148"),
    },
    "v0.13.8": {
        "metallb-native.yaml": (75270, "fc02aa9ceb975baa3124219955720581b31225b1d4d86c745127ce9cf4f9f217"),
        "metallb-frr.yaml": (81664, "fc5cbca54259a821595fa84bdd9c2fde2203037df0eb61e944836927baf46492"),
        "metallb-native-prometheus.yaml": (79300, "172d8d6bdb7b4b2de9ec4ee851ea89c9d4c87b8109e42492df0574c32ee49e71"),
        "metallb-frr-prometheus.yaml": (86706, "32a735336186201316658e88cb8809607202579700a95263adfef5d440c7b14f"),
    },
    "v0.13.9": {
        "metallb-native.yaml": (75270, "acf9490589d58d94df025228b58e4bf22190a3d8e50c53736a30b814302a9f77"),
        "metallb-frr.yaml": (81664, "4e11bf7b245d5f7fb3c40f4014bd10f881ad102426c780032dd74ac7002df105"),
        "metallb-native-prometheus.yaml": (79300, "e0e6af65cde9161474a9ce2712a861d3d827d5d287b077b3f50f701f32d8e092"),
        "metallb-frr-prometheus.yaml": (86706, "6569611d7708b0be114b338d6005b30e3b919b2de699899cc8f85ff1d3f72322"),
    },
    "v0.13.10": {
        "metallb-native.yaml": (76190, "1ef6537179ee2517f4e3bcc2e59454510051275ff751ba00983962f15746665c"),
        "metallb-frr.yaml": (82584, "d35e8982c3744598c07ccc3262e05e48ff6819a8c2370f4643e1a16a20e222cc"),
        "metallb-native-prometheus.yaml": (80220, "9b5a55b2a333d5585ff0dff4bd3609cb86dbcf44ce6742801d0d5b29e3ff6f16"),
        "metallb-frr-prometheus.yaml": (87626, "1a762a1f7a9980178321789fca7c3e11c976f0b7e4504af50cb3ab0d9297054c"),
    },
    "v0.13.11": {
        "metallb-native.yaml": (76201, "e3cd5d0da1f0b912fc2c26b7aa945f0ec2b7f9e78ddc6bc1a582a91e5efd8407"),
        "metallb-frr.yaml": (82603, "6c1efd1e07cd6e479ea98e7cc22b256ece3d23548948217f974af2b3d589257e"),
        "metallb-native-prometheus.yaml": (80231, "7596dd999f6499b8fcaf5411edb693fbfa75dcfec8030917487763470392015a"),
        "metallb-frr-prometheus.yaml": (87645, "7280462d19aaba07633020911bba1820db5a0aa5b4cf4044280b958e9d93ed9d"),
    },
    "v0.13.12": {
        "metallb-native.yaml": (76201, "a5e3b65e073ba8236cc36c283fb33260e764977c7e460d6a462347ccaa91683d"),
        "metallb-frr.yaml": (82603, "2ca860276d2902b1e9ec53a9a70bb90432d3f4a00a6b57dde03bb6c1a8941fc9"),
        "metallb-native-prometheus.yaml": (80231, "c0f4b60974088a4e9454be6c70115b3c6a1e718d61adce138a40967b95332692"),
        "metallb-frr-prometheus.yaml": (87645, "c1740c400829862cac9ca1012e857625f4d5d9f17345d12cfcd5d0d5e2698c1e"),
    },
    "v0.14.0": {
        "metallb-native.yaml": (76240, "863c8cdc77a76b5015eb5c8c85e9820c64a47d254840e30e690790c742d173c4"),
        "metallb-frr.yaml": (82640, "77bbcf907593c8ec120e73c1e69409eabb098e28ca311fef96efc10b0df4736e"),
        "metallb-frr-k8s.yaml": (119975, "459407ba682bd7c40b7984fb8f91b892a37fb8d64cab6350dff8d1dd82cb14a3"),
        "metallb-native-prometheus.yaml": (80270, "710e78f37e568539c96eef1319d65d8f21d282574454f8ce5ea1a571323e3b97"),
        "metallb-frr-prometheus.yaml": (87682, "e8d8287d2cf0412f0ba79a328bac50531f1137e3d87e9455beb656e18b7dc156"),
        "metallb-frr-k8s-prometheus.yaml": (125408, "69247ee885a748f1949002f09d0be831dfac28f7d84e50b20eecce15d22b5510"),
    },
    "v0.14.1": {
        "metallb-native.yaml": (76240, "ce168d85e728383009fa522d5fc0813fcbb9c449e6d742cd96718076b38380fe"),
        "metallb-frr.yaml": (82640, "76a341590a3449a6dfebcfbe2e5583dc6c9363ba1a037c0bc47768833e465ea1"),
        "metallb-frr-k8s.yaml": (119975, "c7f83797365f8a4cdceb99e38ea2a5286570a0d5c902bd93a3c2a8efcf95f215"),
        "metallb-native-prometheus.yaml": (80270, "2ebc45ca7dedcad71ccc1ddccd3486c32e670ff95d13ddb4f23c0d6561ee6b4f"),
        "metallb-frr-prometheus.yaml": (87682, "2be74855b431df7328cc58c9dfac8ffc693d125192e5c7dc3f0b24892aa6e750"),
        "metallb-frr-k8s-prometheus.yaml": (125408, "b5e11e7beeeea61076b015b9231519fdcfeba26b392e765f29813dcf8514b92a"),
    },
    "v0.14.2": {
        "metallb-native.yaml": (76240, "32e19139ef2c13d9a1923ae5b2009b45a28583eb21b3f7f89fceb852c282b961"),
        "metallb-frr.yaml": (82640, "2802c15563dba8acf282f936abc0b593dff83ef001f6af643050808c7bc4ad4c"),
        "metallb-frr-k8s.yaml": (119975, "8121050b4ce0fac016120d2c22a4ae4ec8b9c5b08d3b6d2d5f3e524f1d5d2e68"),
        "metallb-native-prometheus.yaml": (80270, "5361c1468161156efa5378a127f05377ab8937cfb444b1600ce991a8eb4f8c23"),
        "metallb-frr-prometheus.yaml": (87682, "3f949b8fd8cc5ad75d87cfe4634ff712f73282e9fe480dfc9176e753048cd6bf"),
        "metallb-frr-k8s-prometheus.yaml": (125408, "6aac8850583fca7a0a4153f99c60d4a09f28a78c79b1bb771d34a19e7456d33c"),
    },
    "v0.14.3": {
        "metallb-native.yaml": (64769, "df1ca995d3dc7f033cb5424a186ebdde69305e3beb688c5cb4d3271d71b1883c"),
        "metallb-frr.yaml": (71169, "31da0e5ece83aba8e2c6d027b0f5ce3b7a434a4b742a1967cbd8ddcc06130647"),
        "metallb-frr-k8s.yaml": (108504, "cfba05de2f97f59148069e5dc70cd043b570ad7d6d6c1c1344f4e709a3a12d53"),
        "metallb-native-prometheus.yaml": (68799, "336ae0cdbb78b740950799dc958e924a8675f82afed1c853228408c353cce372"),
        "metallb-frr-prometheus.yaml": (76211, "ae1b3d56e177f37dea535d0a57d10ce3f8b323171b661a40918e9965fafaafb5"),
        "metallb-frr-k8s-prometheus.yaml": (113937, "707de0afc8ca52bca805eebf48a3cbec6b75f7abe238730bf74eacb65e5c037e"),
    },
    "v0.14.4": {
        "metallb-native.yaml": (68864, "9d3223d396db0bd55dcf35a486e36bf3c5508a0589acfbe8a579faf6f869d980"),
        "metallb-frr.yaml": (75264, "79ceb67a52efaa46e554eb557c5acc5859ea2e2f0e63bb200c1a53389b4f95c5"),
        "metallb-frr-k8s.yaml": (113493, "1da848c0d05d060e76d611891568b143898679d005fc81784cc420863c30222f"),
        "metallb-native-prometheus.yaml": (72894, "9324941c2a1f01a0338a80023be8f1666e3e7f3ccc3a3a2d84461ec2a97b8450"),
        "metallb-frr-prometheus.yaml": (80306, "46d7ee3784b9f9b3f0f440cf159cdcac13b6aa603c14bbe8d8ab8c48b409c51d"),
        "metallb-frr-k8s-prometheus.yaml": (118674, "dd1054b9dfdfef8592b967c95fc9914d08abd06c12d554c53238e1ada6ebf848"),
    },
    "v0.14.5": {
        "metallb-native.yaml": (68864, "429e36c1306894feaec80aa4d78387192a1d9862c710e241e445019663d6a3a1"),
        "metallb-frr.yaml": (75264, "5cae67314abfa8a44b2bfe9831536d06571711b5b0f61ed368695d31c10f9acb"),
        "metallb-frr-k8s.yaml": (113853, "64b052d9febe78c02d0b0fc02ed1e2931fe8a0581a9359309d94f62206ec93ad"),
        "metallb-native-prometheus.yaml": (72894, "5a0e54749adf5b6059c4dd98aac3f5ff9fb5cc12b865602432e49f4c0da58a1b"),
        "metallb-frr-prometheus.yaml": (80306, "f718ace0a0e3b4f56459c20981061fe80f5ec0ca05069c9964a2587110fa8c5d"),
        "metallb-frr-k8s-prometheus.yaml": (119034, "5a2a88e8a5fac55dfab193e6f48ab287a45e9e21a85812dafa0fc25db4d4b18d"),
    },
    "v0.14.6": {
        "metallb-native.yaml": (71301, "8e0a303cadc607e5dbe00ce74432731a1f7eed3f2ad10bceeda647121af979fd"),
        "metallb-frr.yaml": (77770, "00e6ae98779021897164801fc972701df6b17d8370bcb7c05394579dfecf593f"),
        "metallb-frr-k8s.yaml": (117043, "e744757c035153f89dba72b97679959b1310948749fef0e1ed20bb0713b86035"),
        "metallb-native-prometheus.yaml": (75331, "254effab83a4544d5535710ee91ad3bf1dfa2c7e908397a23f1a7e90c8e382ef"),
        "metallb-frr-prometheus.yaml": (82812, "140d8f594365a5d6ea7dbf68d0e5b7fe12ed3945d723835d52d9b48bebffcad3"),
        "metallb-frr-k8s-prometheus.yaml": (122224, "faf252d6e9abf8b0e3c4eec10694f0555b5ae20e11077303f56bb3662eaff340"),
    },
    "v0.14.7": {
        "metallb-native.yaml": (71215, "15987a38e722334415ef8d28669f6346df9ef6c42a22adbab543a14b9cc48563"),
        "metallb-frr.yaml": (77684, "a0f1301048159a8ee92e1ac423cabc3a771be3ba65a1842fdbf44cabcd33dad8"),
        "metallb-frr-k8s.yaml": (116957, "b43621a90a7fe8083f35b70e74346c63e2d753ef0f5ae9a8aafd7d78c4dd9430"),
        "metallb-native-prometheus.yaml": (75245, "2936f0d1debbf2f6db946680d81589584d0eb9fa07c1ff78b226f155794a20ae"),
        "metallb-frr-prometheus.yaml": (82726, "842945e2d549fa12d9aa04e8d9245847d4f36b43c145207ea973b911357073c1"),
        "metallb-frr-k8s-prometheus.yaml": (122138, "1909409156798c22862021ea02652d482bff061ccae7d752a7c6445b03d62c22"),
    },
    "v0.14.8": {
        "metallb-native.yaml": (71215, "11b5906021fde56040cf10d1bcbaf5c2b7a4206045ebb103915347dfcc533f0e"),
        "metallb-frr.yaml": (77694, "1dde0b883ac1af3549bc7f49c654d0cb526fb8cd43a5bff51370b7eeddb506d5"),
        "metallb-frr-k8s.yaml": (118109, "9aad14411b451417d111ec26e98fa22845fcff0e8737ebaa16de4d9da09fd0b2"),
        "metallb-native-prometheus.yaml": (75245, "6204845fef29f0ee45d7f82454c8458d25f06a24a9731e3c9835f55a04f3b010"),
        "metallb-frr-prometheus.yaml": (82736, "5475ad514db21f3ebc9543922f18e2aea9c365506aca8db468864d7a11057da0"),
        "metallb-frr-k8s-prometheus.yaml": (123290, "b52a117b6828acb52513bdfd919e7b445e4af08bfbf1f039807d0b11d5ad997c"),
    },
    "v0.14.9": {
        "metallb-native.yaml": (71953, "951065e85692aa106f1bb5d5a487d9306154923a794ab1d82122881cbaf588e4"),
        "metallb-frr.yaml": (78432, "79ee3c6a65c7040d636ce6a55722cd9df81675213aeef363bd985480ba1d10fd"),
        "metallb-frr-k8s.yaml": (119800, "f2084b3221d5459c33b500be32d860662a4a1a707074bbc19c01179e792a43ec"),
        "metallb-native-prometheus.yaml": (75983, "19ca7001f157b0d8578af82d85d1bc503d228c565edabd7620332437e89c5f14"),
        "metallb-frr-prometheus.yaml": (83474, "3a23c6c802709689905f791c10387bfe272cfee0867e82a8b51541cbf9b0bad7"),
        "metallb-frr-k8s-prometheus.yaml": (124981, "72a666bb4b57255d941e6d5a65c17c1c1d55fdb31ad22fda2006afb1150518da"),
    },
    "v0.15.0": {
        "metallb-native.yaml": (74628, "3d91f1f4dee82b230075facd208f5391d41650ecba05dea563f37a65c0c1b3a7"),
        "metallb-frr.yaml": (81183, "bf823d65c23fd23b1d80a7a66c9418939fc3fd346b049ed3329ca69b9184f533"),
        "metallb-frr-k8s.yaml": (127778, "824e5039d52c8719d8ced865a49e5cb1ff06c961a966c3e061ca9c0240df0e6f"),
        "metallb-native-prometheus.yaml": (78658, "c94f8f3340a10f765d652519c438710a0427403d3ca115ee797e4d5c88a6911d"),
        "metallb-frr-prometheus.yaml": (86225, "e78a5da5e519c5ccde96d1b6deaac5a5299ef24d724d6a561f07e5a44fd59721"),
        "metallb-frr-k8s-prometheus.yaml": (132959, "41efa78ca5c057bd2a407ebb3b7c28da951f72c02e575b2d265e93ba94c34a92"),
    },
    "v0.15.1": {
        "metallb-native.yaml": (74628, "a678d4a331f9b1f9aa40c8ded833fc222625a4f1d7aef5828a7fa386a6a069b4"),
        "metallb-frr.yaml": (81183, "fbbf937e1cd1511df6dfea944f164abfb4f71845b7cc017d07172f018bb04633"),
        "metallb-frr-k8s.yaml": (127778, "7d6e1cecd96565bdfed0acb8e5adf18715d6b23f4c74471105bf62377b18bdb5"),
        "metallb-native-prometheus.yaml": (78658, "cc2157502d24f97a33b80da5330d63f45348f4f315054df085d801e608433ff6"),
        "metallb-frr-prometheus.yaml": (86225, "774932e5670e0cca9ad91e7d55baaf199375f15efd122ed88cd92d80de0e5187"),
        "metallb-frr-k8s-prometheus.yaml": (132959, "d4d243cb903ba9bcb61d52e8866fa9bad0c6083e46f086278b71b8a7a1fde540"),
    },
    "v0.15.2": {
        "metallb-native.yaml": (74628, "a1b04c376fb39c93265f551fe23716a3ae6e09b790edb3bf257d3fc784c35a18"),
        "metallb-frr.yaml": (81183, "64cae8e2bb5a7e7cb3d8d27894c6ae6db3d677e7b8504f88b2f0dea67d0b89d5"),
        "metallb-frr-k8s.yaml": (127778, "267dd45df04499a477840308988b551cd8435b01f55f92443f931b56095ea171"),
        "metallb-native-prometheus.yaml": (78658, "145e79331db5c52bef5f2e28ed5782322b529b750fc6d270fc1cf2b30396043c"),
        "metallb-frr-prometheus.yaml": (86225, "fd4679de84faa4661a1aee3a22870db85fdeee047e53f56c121a897c9dd67d02"),
        "metallb-frr-k8s-prometheus.yaml": (132959, "6290c16912b9c9a63567120f14754763e067d0dd4771e817ce58a6a40b576509"),
    },
    "v0.15.3": {
        "metallb-native.yaml": (80890, "84b4e102f2b65f5d69085f5816c29362b74641873d8ac3de996e5f86a8219176"),
        "metallb-frr.yaml": (87929, "5a0c44ad4059e9912d8af0b12fb035d47a75619e913737f5a2759620e7ab5769"),
        "metallb-frr-k8s.yaml": (135231, "eabbcb0f119c6d6e466a663f2bf48623de7f8db85637181c1db3046ac30aeebc"),
        "metallb-native-prometheus.yaml": (84998, "10a8e8403251aad2fa53261bb6bf06006ddcb0d9aa76baea75544a43985f271e"),
        "metallb-frr-prometheus.yaml": (93010, "f1448a2e82e33f154e4d92c8223e3c6c8b02c60c331c0fae71c6ffd989aeff83"),
        "metallb-frr-k8s-prometheus.yaml": (140490, "fbc563d18ab0ee061f62ecf551b9f5dbfc2dd3f1de4219d3d5e1a0b70d685644"),
    },
    "v0.16.0": {
        "metallb-native.yaml": (88726, "b0b9be2802f10aa32d45308b4457d06cde0c70544712c8d0cf5511657ffd2b69"),
        "metallb-frr.yaml": (95635, "2cf2941245a20b9e2f3d4805a0e60ef134f3992ae3ef4c04f291163e83a6ec82"),
        "metallb-frr-k8s.yaml": (145116, "57f2d033cfb2f85684e8ebd3e48335e3e7fcc1023a3e64931fec7253f06c7568"),
        "metallb-native-prometheus.yaml": (91400, "b3193528038d646a131ce6d4126e1fd1e0358ead248ea844ac6d5194154b926e"),
        "metallb-frr-prometheus.yaml": (98574, "fe2ceb45225f848af72792d4a7b475c98c455dbdd8c0c1ed420e35d1ca573779"),
        "metallb-frr-k8s-prometheus.yaml": (148941, "51f39486aac236a71cb9abbc9c7e32ba50ee707ac8223622d2b644998a26ced1"),
    },
    "v0.16.1": {
        "metallb-native.yaml": (88670, "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"),
        "metallb-frr.yaml": (95579, "2b3574f8a257270117f1ab58c4268c99c56cf3e92f2525e6b88aff0b2208f131"),
        "metallb-frr-k8s.yaml": (145060, "19313e5031714cc1489b3b0ed0ae6e58be0e92538b4a5ed9c529c847ef2bac62"),
        "metallb-native-prometheus.yaml": (91344, "a5368dc0fb01bcfe9e05d53e1cac7008cb778e19be4e6b1ab22c72ac952e6770"),
        "metallb-frr-prometheus.yaml": (98518, "190e780b16d969c1eb36ad027539c2e435bc347f87ba2dccd373cb306d5b8ba4"),
        "metallb-frr-k8s-prometheus.yaml": (148885, "366201b4809fccfcea36be727649e97f1ff0722fac9bc079516ec289dc489e78"),
    },
}

TAGS = tuple(RELEASES)
DEFAULT_TAG = TAGS[-1]

# Practical Kubernetes floors (release notes): v0.14.2 moved from Endpoints to EndpointSlices and "is not
# compatible with clusters older than 1.21". No floor is documented for older releases.
_KUBERNETES_FLOORS = (((0, 14, 2), (1, 21)),)

# The webhook Service and its certificate Secret were renamed in v0.14.4.
_WEBHOOK_RENAMED_IN = (0, 14, 4)
WEBHOOK_NAMES_OLD = ("webhook-service", "webhook-server-cert")
WEBHOOK_NAMES = ("metallb-webhook-service", "metallb-webhook-cert")
WEBHOOK_CONFIGURATION = "metallb-webhook-configuration"


class ReleaseError(ValueError):
    """An unknown release or a file a release does not have; the message says what exists instead."""


@dataclass(frozen=True)
class Artifact:
    tag: str
    file: str
    url: str
    size: int
    sha256: str


_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Tuple[int, int, int]:
    """(major, minor, patch) of "v0.14.9" or "0.14.9"; ValueError for anything else (e.g. "main", "latest")."""
    match = _VERSION.fullmatch((text or "").strip())
    if not match:
        raise ValueError(f"'{echo(str(text))}' is not a MetalLB version like v0.16.1")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def normalize_tag(text: str) -> str:
    """The tag spelling used upstream ("v0.14.9") for "0.14.9" or "v0.14.9"."""
    return "v%d.%d.%d" % parse_version(text)


def manifest_file(mode: str, prometheus: bool = False) -> str:
    if mode not in MODES:
        raise ReleaseError(f"unknown mode '{mode}': use one of {', '.join(MODES)}")
    return f"metallb-{mode}{'-prometheus' if prometheus else ''}.yaml"


def artifact(tag: Optional[str] = None, mode: str = "native", prometheus: bool = False) -> "Artifact":
    """The upstream manifest of a release for a mode, with its URL and pinned digest."""
    try:
        tag = normalize_tag(tag) if tag else DEFAULT_TAG
    except ValueError as exc:
        raise ReleaseError(f"{exc}; known releases: {TAGS[0]} .. {TAGS[-1]}") from None
    files = RELEASES.get(tag)
    if files is None:
        raise ReleaseError(
            f"unknown MetalLB release {tag}: known releases are {TAGS[0]} .. {TAGS[-1]} "
            "(see --list-versions); for another release pass --manifest URL --sha256 HEX"
        )
    name = manifest_file(mode, prometheus)
    if name not in files:
        variant = f"{mode} mode{' with --prometheus' if prometheus else ''}"
        since = first_release_with(name)
        hint = f"it exists from {since}" if since else "no known release has it"
        raise ReleaseError(f"MetalLB {tag} has no manifest for {variant} ({name}): {hint}")
    size, digest = files[name]
    return Artifact(tag, name, URL_PATTERN.format(tag=tag, file=name), size, digest)


def first_release_with(file: str) -> Optional[str]:
    return next((tag for tag in TAGS if file in RELEASES[tag]), None)


def known_digest(sha256: str) -> Optional[Tuple[str, str]]:
    """(tag, file) of the known release file with this sha256, or None."""
    sha256 = (sha256 or "").lower()
    for tag in TAGS:
        for name, (_, digest) in RELEASES[tag].items():
            if digest == sha256:
                return tag, name
    return None


def min_kubernetes(tag: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of the oldest Kubernetes a release is documented to work on, or None."""
    version = parse_version(tag)
    floor = None
    for since, needs in _KUBERNETES_FLOORS:
        if version >= since:
            floor = needs
    return floor


def webhook_names(tag: Optional[str]) -> Tuple[str, str]:
    """(Service, Secret) names of the validating webhook as a release's manifests create them."""
    try:
        version = parse_version(tag or "")
    except ValueError:
        return WEBHOOK_NAMES  # unknown builds (e.g. "main") use the current names
    return WEBHOOK_NAMES if version >= _WEBHOOK_RENAMED_IN else WEBHOOK_NAMES_OLD


def catalogue() -> List[Dict[str, Any]]:
    """Every known release, newest first: version, default, modes, prometheusModes, minKubernetes."""
    rows = []
    for tag in reversed(TAGS):
        floor = min_kubernetes(tag)
        rows.append(
            {
                "version": tag,
                "default": tag == DEFAULT_TAG,
                "modes": [m for m in MODES if manifest_file(m) in RELEASES[tag]],
                "prometheusModes": [m for m in MODES if manifest_file(m, True) in RELEASES[tag]],
                "minKubernetes": "%d.%d" % floor if floor else None,
            }
        )
    return rows
