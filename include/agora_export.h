/*
 * agora_export.h - AGORA_API, the mark of an exported function.
 *
 * libagora and libagora-server are built with -fvisibility=hidden: a
 * function of theirs is visible to programs only when its declaration in a
 * public header carries AGORA_API. Everything else (the ag_* functions the
 * files of a library share) stays inside the library. tests/abi checks
 * what each shared library exports.
 */
#ifndef AGORA_EXPORT_H
#define AGORA_EXPORT_H

#if defined(__GNUC__) && __GNUC__ >= 4
#define AGORA_API __attribute__((visibility("default")))
#else
#define AGORA_API
#endif

#endif
