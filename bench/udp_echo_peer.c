// SPDX-License-Identifier: MIT
// udp_echo_peer: the bare C reference for bench/udp.sh. One thread, one socket: a blocking
// recvmmsg (MSG_WAITFORONE: waits for one datagram, then takes those already queued) and one
// sendmmsg of the same batch back to the senders. No runtime, no readiness API.
//
//   udp_echo_peer PORT [BATCH]   binds 127.0.0.1:PORT (0: any free port), prints
//                                "listening on 127.0.0.1:P (recvmmsg)", echoes until killed
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { max_batch = 64, max_datagram = 65535 };

static struct mmsghdr msgs[max_batch];
static struct iovec iov[max_batch];
static struct sockaddr_storage names[max_batch];
static unsigned char storage[max_batch][max_datagram];

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: udp_echo_peer PORT [BATCH (1..%d, default 32)]\n", max_batch);
        return 2;
    }
    const int port = atoi(argv[1]);
    const int batch = argc == 3 ? atoi(argv[2]) : 32;
    if (port < 0 || port > 65535 || batch < 1 || batch > max_batch) {
        fprintf(stderr, "udp_echo_peer: bad PORT or BATCH\n");
        return 2;
    }
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int rcvbuf = 4 << 20;  // as udp_echo sets it
    socklen_t len = sizeof addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0 ||
        bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr*)&addr, &len) != 0) {
        perror("udp_echo_peer: socket");
        return 1;
    }
    printf("listening on 127.0.0.1:%d (recvmmsg)\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        for (int i = 0; i < batch; ++i) {
            iov[i].iov_base = storage[i];
            iov[i].iov_len = max_datagram;
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &names[i], .msg_namelen = sizeof names[i],
                                              .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        const int n = recvmmsg(fd, msgs, (unsigned)batch, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("udp_echo_peer: recvmmsg");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            iov[i].iov_len = msgs[i].msg_len;  // the reply is what came; msg_name is the sender
        }
        for (int sent = 0; sent < n;) {
            const int k = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
            if (k < 0) {
                if (errno == EINTR) {
                    continue;
                }
                perror("udp_echo_peer: sendmmsg");
                sent++;  // drop the one the kernel refused
                continue;
            }
            sent += k;
        }
    }
}
