// SPDX-License-Identifier: GPL-2.0
/*
 * tstp_warn - test-only module that makes the kernel complain on purpose.
 *
 * The harness must fail any run whose guest console shows a WARNING, so a
 * test loads this module and checks that tcpstap-vm reports it. Never ship.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/bug.h>

static int __init tstp_warn_init(void)
{
	pr_info("loading: about to WARN on purpose (harness self-test)\n");
	WARN(1, "tcpstap harness self-test warning\n");
	return 0;
}

static void __exit tstp_warn_exit(void)
{
	pr_info("unloaded\n");
}

module_init(tstp_warn_init);
module_exit(tstp_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpstap test-only module: triggers a kernel WARNING");
