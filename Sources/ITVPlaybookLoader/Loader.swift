import CYaml
import ITVCore
import Yams

func probe() -> Int {
    var parser = yaml_parser_t()
    yaml_parser_initialize(&parser)
    yaml_parser_delete(&parser)
    return 0
}
