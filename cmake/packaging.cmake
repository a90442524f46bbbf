# Installation and the Debian package (docs/operations.md, "Installing the package").
#
#   cmake --build build/ci --target package     # or: cd build/ci && cpack
#
# builds cjhub_<version>_<arch>.deb with CPack's DEB generator: /usr/bin/cjhub (stripped), the
# schemas and the sandbox court's templates under /usr/share/cjhub, the example configuration as
# conffiles under /etc/cjhub, the systemd unit and the sysusers.d file, manual pages written by
# help2man from the built binary's --help, bash completion, and /usr/share/doc/cjhub. The
# maintainer scripts and packaging-only files are in packaging/debian; the tier `package`
# (tests/package) builds the package and checks it.
include(GNUInstallDirs)
set(CJHUB_PACKAGING ON)   # tests/CMakeLists.txt registers the tier `package`

# Paths outside the installation prefix: the Debian package installs to /usr, with its
# configuration in /etc and the unit where Debian 12 keeps packaged units.
set(CJHUB_INSTALL_SYSCONFDIR "/etc/cjhub" CACHE PATH "Where the configuration is installed")
set(CJHUB_INSTALL_UNITDIR "/lib/systemd/system" CACHE PATH "Where the systemd unit is installed")
# Empty: a native package, version = the project's (cjhub_0.1.0_amd64.deb, changelog.gz); a
# revision N makes it 0.1.0-N with changelog.Debian.gz.
set(CJHUB_DEB_REVISION "" CACHE STRING "Debian revision of the package (empty: native)")
set(CJHUB_PACKAGE_MAINTAINER "cjhub maintainers <cjhub-maintainers@example.org>"
    CACHE STRING "Maintainer field of the Debian package")
set(cjhub_pkg_dir ${CMAKE_BINARY_DIR}/packaging)
set(cjhub_datadir ${CMAKE_INSTALL_DATADIR}/cjhub)           # share/cjhub, under /usr
set(cjhub_docdir ${CMAKE_INSTALL_DATADIR}/doc/cjhub)        # Debian's doc directory: the package name

# Writes FILE only when its content changes (no substitution of @VAR@ or ${VAR} in CONTENT).
function(cjhub_write_if_changed file content)
  file(WRITE ${file}.tmp "${content}")
  file(COPY_FILE ${file}.tmp ${file} ONLY_IF_DIFFERENT)
  file(REMOVE ${file}.tmp)
endfunction()

# --- the program, the schemas, the sandbox court's templates ---------------------------------
install(TARGETS cjhub RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Stripped (CPACK_STRIP_FILES, `cmake --install --strip`): also without the .comment and .note
# sections, as dh_strip leaves a Debian binary.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note
                  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/cjhub\" COMMAND_ERROR_IS_FATAL ANY)
endif()")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/schemas/ DESTINATION ${cjhub_datadir}/schemas
        PATTERN README.md EXCLUDE)   # docs/message-types.md describes them
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/sandbox/ DESTINATION ${cjhub_datadir}/config/sandbox)

# --- the configuration (conffiles) -------------------------------------------------------------
# cjhub.yaml is config/cjhub.example.yaml with its relative schema paths (../schemas/...) turned
# into ${CJHUB_SCHEMA_DIR:-/usr/share/cjhub/schemas}/... and the sandbox templates' default into
# /usr/share/cjhub/config/sandbox, so that it passes `cjhub check-config` once its TLS files exist
# (the variables let a test point them into an unpacked package).
set(cjhub_example ${PROJECT_SOURCE_DIR}/config/cjhub.example.yaml)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${cjhub_example})
file(READ ${cjhub_example} cjhub_yaml)
set(cjhub_schema_prefix "\${CJHUB_SCHEMA_DIR:-/usr/${cjhub_datadir}/schemas}/")
# A quoted scalar: "${" may not start a plain scalar inside a flow sequence ([...]).
string(REGEX REPLACE "\"?\\.\\./schemas/([^]\",\n]*)\"?" "\"${cjhub_schema_prefix}\\1\"" cjhub_yaml "${cjhub_yaml}")
string(REPLACE "\${CJHUB_SANDBOX_TEMPLATES:-sandbox}" "\${CJHUB_SANDBOX_TEMPLATES:-/usr/${cjhub_datadir}/config/sandbox}"
       cjhub_yaml "${cjhub_yaml}")
if(cjhub_yaml MATCHES "\\.\\./schemas/" OR NOT cjhub_yaml MATCHES "CJHUB_SCHEMA_DIR")
  message(FATAL_ERROR "cmake/packaging.cmake: cannot rewrite the schema paths of ${cjhub_example}")
endif()
string(REPLACE "# Relative paths are relative to this file's directory.\n"
       "# Relative paths are relative to this file's directory. This copy, installed by the cjhub\n# package, reads the schemas from ${cjhub_schema_prefix}.\n"
       cjhub_yaml "${cjhub_yaml}")
cjhub_write_if_changed(${cjhub_pkg_dir}/cjhub.yaml "${cjhub_yaml}")

# Name in /etc/cjhub -> file in the repository (or the build tree). DEBIAN/conffiles is written
# from the same list.
set(cjhub_conffiles
  cjhub.yaml ${cjhub_pkg_dir}/cjhub.yaml
  agencies.yaml ${PROJECT_SOURCE_DIR}/config/agencies.example.yaml
  certification.yaml ${PROJECT_SOURCE_DIR}/config/certification.yaml)
set(cjhub_conffiles_list "")
while(cjhub_conffiles)
  list(POP_FRONT cjhub_conffiles name source)
  install(FILES ${source} DESTINATION ${CJHUB_INSTALL_SYSCONFDIR} RENAME ${name})
  string(APPEND cjhub_conffiles_list "${CJHUB_INSTALL_SYSCONFDIR}/${name}\n")
endwhile()
cjhub_write_if_changed(${cjhub_pkg_dir}/control/conffiles "${cjhub_conffiles_list}")

# --- systemd -------------------------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/config/systemd/cjhub.service DESTINATION ${CJHUB_INSTALL_UNITDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/systemd/cjhub.sysusers.conf
        DESTINATION lib/sysusers.d RENAME cjhub.conf)   # /usr/lib/sysusers.d (not the multiarch LIBDIR)

# --- bash completion -----------------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/packaging/bash-completion/cjhub
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# --- manual pages --------------------------------------------------------------------------------
# One page per command that `cjhub --help` lists, at every level, written by help2man from the
# built binary whenever it changes (packaging/man/gen-manpages.sh walks the commands).
find_program(HELP2MAN_PROGRAM help2man)
set(cjhub_man_dir ${CMAKE_BINARY_DIR}/man/man1)
if(HELP2MAN_PROGRAM)
  file(GLOB cjhub_h2m CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/packaging/man/*.h2m)
  add_custom_command(
    OUTPUT ${cjhub_man_dir}/commands.txt
    COMMAND bash ${PROJECT_SOURCE_DIR}/packaging/man/gen-manpages.sh $<TARGET_FILE:cjhub> ${PROJECT_VERSION}
            ${PROJECT_SOURCE_DIR}/packaging/man ${cjhub_man_dir}
    DEPENDS cjhub ${PROJECT_SOURCE_DIR}/packaging/man/gen-manpages.sh ${cjhub_h2m}
    COMMENT "Writing the manual pages (help2man)"
    VERBATIM)
  add_custom_target(cjhub_man ALL DEPENDS ${cjhub_man_dir}/commands.txt)
  install(DIRECTORY ${cjhub_man_dir}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")
else()
  message(STATUS "help2man not found: no manual pages, and the package cannot be built")
  install(CODE "message(FATAL_ERROR \"the manual pages need help2man (apt-get install help2man), then reconfigure\")")
endif()

# --- /usr/share/doc/cjhub ------------------------------------------------------------------------
if(CJHUB_DEB_REVISION)
  set(CJHUB_DEB_VERSION ${PROJECT_VERSION}-${CJHUB_DEB_REVISION})
  set(cjhub_changelog changelog.Debian)
else()
  set(CJHUB_DEB_VERSION ${PROJECT_VERSION})
  set(cjhub_changelog changelog)   # a native package's changelog (Debian Policy 12.7)
endif()
string(TIMESTAMP CJHUB_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)   # SOURCE_DATE_EPOCH, when set
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog.in ${cjhub_pkg_dir}/${cjhub_changelog} @ONLY)
set(cjhub_gz_docs ${cjhub_pkg_dir}/${cjhub_changelog} ${PROJECT_SOURCE_DIR}/docs/operations.md)
set(cjhub_gz_outputs "")
foreach(doc IN LISTS cjhub_gz_docs)
  get_filename_component(name ${doc} NAME)
  add_custom_command(OUTPUT ${cjhub_pkg_dir}/doc/${name}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${cjhub_pkg_dir}/doc
    COMMAND sh -c "gzip -9n <\"$1\" >\"$2\"" gz ${doc} ${cjhub_pkg_dir}/doc/${name}.gz
    DEPENDS ${doc} VERBATIM)
  list(APPEND cjhub_gz_outputs ${cjhub_pkg_dir}/doc/${name}.gz)
endforeach()
add_custom_target(cjhub_docs ALL DEPENDS ${cjhub_gz_outputs})
install(FILES ${cjhub_gz_outputs} ${PROJECT_SOURCE_DIR}/packaging/debian/copyright DESTINATION ${cjhub_docdir})

# --- CPack: the Debian package ---------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR TGZ)   # `package_source`: the repository without what scripts create
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build/" "/var/" "/node_modules/")
set(CPACK_PACKAGE_NAME cjhub)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
if(CJHUB_DEB_REVISION)
  set(CPACK_DEBIAN_PACKAGE_RELEASE ${CJHUB_DEB_REVISION})
endif()
set(CPACK_PACKAGE_CONTACT "${CJHUB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "clearing house for criminal-justice messages")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "cjhub takes NIEM XML messages that police records systems and the courts post
over mutual TLS, validates each against its XML schemas, commits it to
PostgreSQL before it answers, and delivers it to the HTTPS endpoint of every
subscribed agency: at least once, in order per case, with retries, dead
letters, acknowledgements and a tracked erasure of a case's records.

The package installs the daemon (a systemd service, not enabled until its
configuration in /etc/cjhub is complete), the operators' commands and the
reference receiving endpoint and client.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)                  # cjhub_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CJHUB_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)                   # Depends from dpkg-shlibdeps
# postinst creates the account with systemd-sysusers, or with adduser where that is missing.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${cjhub_pkg_dir}/control/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # maintainer scripts 0755, the rest 0644
include(CPack)
