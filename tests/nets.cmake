# nets/ suites: the core (loader, JSON, pool), every ref op against PyTorch fixtures
# (tests/data/nets, written by train/make_nets_fixtures.py), and the onednn backend against ref.
neco_add_test(NAME test_nets SOURCES test_nets.c)
neco_add_test(NAME test_nets_ref SOURCES test_nets_ref.c test_nets_util.c)
if(NECO_WITH_ONEDNN)
  neco_add_test(NAME test_nets_onednn SOURCES test_nets_onednn.c test_nets_util.c)
endif()
