// The trainee Lab's plugins.
module.exports = [require('./submit'), require('./clean_open')];
