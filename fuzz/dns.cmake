# fuzz/dns.cmake - libFuzzer targets of the DNS-log parsers and the indicator-list loaders
# (lib/dns). Included from fuzz/CMakeLists.txt; each target fuzz_dns_<entry> has its CTest
# fuzz/dns_<entry> over its seed corpus corpus/dns_<entry>/, run for 8 seconds (or
# KH_FUZZ_SECONDS_OVERRIDE) so that a CI run stays bounded. The log parsers share one source,
# fuzz_dns_log.c, built once per format (KH_DNS_FUZZ_FORMAT = KH_DNS_FMT_<ENTRY>); the
# indicator-list loader has its own, fuzz_dns_list.c, and so has the wire-format DNS message
# parser behind dnstap, fuzz_dns_wire.c (dnstap frames wrap it in protobuf, which a fuzzer
# rarely gets through), the dnstap socket receiver, fuzz_dns_tapsock.c (bytes from a sender),
# the DGA model file reader, fuzz_dns_model.c (a model may come from anywhere), and
# fuzz_dns_eve_diff.c, the fast Suricata EVE reader checked line by line against jansson's.
set(KH_DNS_FUZZ_TARGETS bind unbound dnsmasq zeek eve windows pdns csv dnstap list wire tapsock model eve_diff)
set(kh_dns_fuzz_seconds 8)
if(KH_FUZZ_SECONDS_OVERRIDE)
  set(kh_dns_fuzz_seconds ${KH_FUZZ_SECONDS_OVERRIDE})
endif()
foreach(entry ${KH_DNS_FUZZ_TARGETS})
  if(entry STREQUAL "list" OR entry STREQUAL "wire" OR entry STREQUAL "tapsock" OR entry STREQUAL "model"
     OR entry STREQUAL "eve_diff")
    add_executable(fuzz_dns_${entry} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_dns_${entry}.c)
  else()
    string(TOUPPER ${entry} fmt)
    add_executable(fuzz_dns_${entry} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_dns_log.c)
    target_compile_definitions(fuzz_dns_${entry} PRIVATE KH_DNS_FUZZ_FORMAT=KH_DNS_FMT_${fmt})
  endif()
  target_compile_options(fuzz_dns_${entry} PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_dns_${entry} PRIVATE -fsanitize=fuzzer)
  target_include_directories(fuzz_dns_${entry} PRIVATE ${CMAKE_SOURCE_DIR}/lib)
  target_link_libraries(fuzz_dns_${entry} PRIVATE khien_lib)
  add_test(NAME fuzz/dns_${entry}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/run_fuzzer.sh $<TARGET_FILE:fuzz_dns_${entry}>
                   ${CMAKE_CURRENT_SOURCE_DIR}/corpus/dns_${entry} ${CMAKE_CURRENT_BINARY_DIR}/artifacts
                   -max_total_time=${kh_dns_fuzz_seconds} -max_len=8192 -rss_limit_mb=2048 -timeout=10)
  set_tests_properties(fuzz/dns_${entry} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
