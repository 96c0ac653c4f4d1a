# hub_add_module(<name>
#   SOURCES ...          sources of the module's static library (hub_<name>)
#   DEPS ...             libraries it links (PUBLIC)
#   PRIVATE_DEPS ...     libraries it links (PRIVATE)
#   TESTS ...            GoogleTest sources of its test executable (hub_<name>_tests)
#   TEST_DEPS ...        extra libraries for the tests)
#
# One module = one folder with include/, src/, tests/. The library exposes include/.
# Test suites are labelled by their name: suites ending in DbTest get the CTest label
# `db`, MqTest `mq`, E2eTest `e2e`; all others are `unit`. Labelled suites require the
# `services` fixture (private PostgreSQL + RabbitMQ running).
function(hub_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS;TESTS;TEST_DEPS" ${ARGN})
  set(lib hub_${name})
  add_library(${lib} STATIC ${M_SOURCES})
  target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${lib} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  if(M_TESTS)
    hub_add_test_executable(${lib}_tests SOURCES ${M_TESTS} DEPS ${lib} ${M_TEST_DEPS})
  endif()
endfunction()

# hub_add_test_executable(<target> [SERIAL] SOURCES ... DEPS ...): a GoogleTest executable
# whose tests are discovered by CTest at test time and labelled as described above. SERIAL:
# its tests never run beside another test (they restart shared services).
function(hub_add_test_executable target)
  cmake_parse_arguments(T "SERIAL" "" "SOURCES;DEPS" ${ARGN})
  set(serial "")
  if(T_SERIAL)
    set(serial RUN_SERIAL TRUE)
  endif()
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE ${T_DEPS} hub_test_support GTest::gtest GTest::gmock GTest::gtest_main)
  set(service_suites "*DbTest.*:*MqTest.*:*E2eTest.*")
  gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST TEST_FILTER "-${service_suites}"
    PROPERTIES LABELS unit TIMEOUT 120)
  foreach(label db mq e2e)
    if(label STREQUAL "e2e")
      set(suffix E2eTest)
    elseif(label STREQUAL "db")
      set(suffix DbTest)
    else()
      set(suffix MqTest)
    endif()
    gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST TEST_FILTER "*${suffix}.*"
      PROPERTIES LABELS ${label} FIXTURES_REQUIRED services TIMEOUT 900 ${serial})
  endforeach()
endfunction()
