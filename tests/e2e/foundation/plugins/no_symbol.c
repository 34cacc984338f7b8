/* A shared library with no profpipe_module symbol. */
int not_a_profpipe_plugin(void);
int not_a_profpipe_plugin(void)
{
    return 42;
}
