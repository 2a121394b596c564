// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstap_impostor - test-only module that carries tcpstap's name prefix but
 * is not a SystemTap module: `tcpstap cleanup` must leave it loaded, because
 * it cannot prove the module is a detached tcpstap module. Never ship.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>

static int __init tcpstap_impostor_init(void)
{
	pr_info("loaded (test-only: not a tcpstap module)\n");
	return 0;
}

static void __exit tcpstap_impostor_exit(void)
{
	pr_info("unloaded\n");
}

module_init(tcpstap_impostor_init);
module_exit(tcpstap_impostor_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpstap test-only module: a tcpstap_ name that is not ours");
