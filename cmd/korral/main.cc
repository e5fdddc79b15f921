#include <cstdio>
int main() { std::puts("korral"); return 0; }
