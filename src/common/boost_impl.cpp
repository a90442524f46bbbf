// The one translation unit that compiles Asio, Asio SSL, Beast and Boost.JSON
// (BOOST_*_SEPARATE_COMPILATION is set for every cjhub target).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
